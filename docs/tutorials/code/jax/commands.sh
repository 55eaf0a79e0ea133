# Run in the folder that holds my_jax_losses.py and the two conformance_*.py modules.
# [first-try]
refloss conformance check --impl module:conformance_first_try --only binary_cross_entropy_with_logits --dtype float64
# [/first-try]
# [fixed]
refloss conformance check --impl module:conformance_jax --only binary_cross_entropy_with_logits
# [/fixed]

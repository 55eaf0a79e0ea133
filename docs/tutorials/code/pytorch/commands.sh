# Run in the folder that holds my_torch_losses.py and the two conformance_*.py modules.
# [torch-builtin]
refloss conformance check --impl torch --only smooth_l1_loss
# [/torch-builtin]
# [first-try]
refloss conformance check --impl module:conformance_first_try --only smooth_l1_loss
# [/first-try]
# [fixed]
refloss conformance check --impl module:conformance_torch --only smooth_l1_loss
# [/fixed]

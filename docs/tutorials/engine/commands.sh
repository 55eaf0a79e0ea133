# Run in the folder that holds lossvec_engine.c.
# [build]
cc -std=c99 -O2 -Wall -Wextra -o lossvec_engine lossvec_engine.c -lm
# [/build]
# [check]
refloss conformance check --impl exec:./lossvec_engine --only l1_loss mse_loss smooth_l1_loss huber_loss
# [/check]
# [reports]
refloss conformance check --impl exec:./lossvec_engine --json reports/engine.json --junit reports/engine.xml
# [/reports]

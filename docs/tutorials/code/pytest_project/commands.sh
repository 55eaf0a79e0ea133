# Run in the folder that holds my_losses.py and test_my_losses.py.
# [pytest]
python -m pytest -q test_my_losses.py
# [/pytest]

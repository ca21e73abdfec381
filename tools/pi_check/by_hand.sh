# shellcheck shell=bash
# The README's by-hand Pi install ("On the Raspberry Pi"), line for line:
# tests/tools/test_pi_check.py fails when the two differ. tools/pi_check
# runs it as the user pi in a copy of the checkout (~/camera_app), every
# line except python3-picamera2's (Raspberry Pi's own archive, which a
# Debian root cannot reach). Not meant to be run by hand as a script.
sudo apt update
sudo apt install -y python3-venv python3-numpy
sudo apt install -y python3-picamera2
python3 -m venv --system-site-packages .venv
python3 -c 'import numpy; print("numpy==" + numpy.__version__)' > .venv/constraints.txt
.venv/bin/pip install -c .venv/constraints.txt .

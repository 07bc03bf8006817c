"""Run the tfport CLI in a fresh process and report whether it imported TensorFlow."""

import subprocess
import sys

SCRIPT = """
import sys
from tfport.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    print("exit", exit.code)
print("TF" if "tensorflow" in sys.modules else "no TF")
"""


def run_tfport(*args, cwd, env):
    result = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, env=env, check=True)
    return result.stdout

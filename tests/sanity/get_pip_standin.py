"""Stand-in for ansible-test's get-pip bootstrap script (whose download host is unreachable
from the build machines): bootstrap pip from the interpreter's bundled wheel with ensurepip,
then install what ansible-test asked for with that pip from the configured package index.

ansible-test runs this file in-process with runpy; ensurepip is run in a subprocess so its
scrubbing of PIP_* settings (certificates, index) does not leak into the pip install below."""

import subprocess
import sys

# get-pip.py options that pip itself does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    main()

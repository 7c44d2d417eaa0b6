"""boto3 and botocore are imported only when the SES backend is used, not to list it."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from mailcore.cli import main
from mailcore.discovery import load_backend

assert main(["backends"]) == 0
backend = load_backend("ses")(region="eu-west-1")
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"boto3", "botocore"})
print("before use:", loaded)
backend.open()
backend.close()
print("after use:", "botocore" in sys.modules)
"""


def test_listing_and_building_the_backend_loads_no_aws_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )

    lines = done.stdout.splitlines()
    assert "before use: []" in lines
    assert lines[-1] == "after use: True"

"""The firmware's logic and main.py under real MicroPython: its WebAssembly port from npm, run by
node (firmware/tests-mp/run.mjs). CPython accepts things MicroPython does not; this catches them.

CI installs the port (`make test` runs `cd firmware && npm ci`), so a missing install is a
failure with the fix in its message, never a skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from fw_loader import CHECK_NAMES, FIRMWARE

PORT = FIRMWARE / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def test_conformance_under_real_micropython() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the firmware tests run MicroPython under node (v18+)")
    if not (PORT / "micropython.mjs").is_file():
        pytest.fail(
            f"MicroPython (WebAssembly) is not installed in {PORT}: run `cd firmware && npm ci`"
        )
    result = subprocess.run(
        [node, "tests-mp/run.mjs"],
        cwd=FIRMWARE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "running under micropython" in result.stdout, output
    summary = re.search(r"(\d+) passed, (\d+) failed", result.stdout)
    assert summary is not None, output
    assert summary.group(2) == "0", output
    # The very checks that ran under CPython, no fewer.
    passed = sorted(re.findall(r"^PASS (\S+)$", result.stdout, re.MULTILINE))
    assert passed == sorted(CHECK_NAMES), output

// Runs the firmware's conformance checks under real MicroPython: the WebAssembly port from npm
// (@micropython/micropython-webassembly-pyscript, pinned in ../package.json).
//
//   cd firmware && npm ci && node tests-mp/run.mjs
//
// The firmware modules, the fake `machine` and the checks are written into MicroPython's virtual
// filesystem and imported there, so the code that runs is the code that goes on the Pico.
// Prints one PASS/FAIL line per check and a summary; exits 0 only if every check passed.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const firmwareDir = dirname(here);

let loadMicroPython;
try {
  ({ loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript"));
} catch (err) {
  console.error(
    "MicroPython (WebAssembly) is not installed: run `cd firmware && npm ci` first.\n" +
      String(err),
  );
  process.exit(2);
}

// file in the virtual filesystem -> file in the repository
const files = {
  "/fw/rigboard.py": join(firmwareDir, "rigboard.py"),
  "/fw/linebuf.py": join(firmwareDir, "linebuf.py"),
  "/fw/pinmap.py": join(firmwareDir, "pinmap.py"),
  "/fw/main.py": join(firmwareDir, "main.py"),
  "/fw/machine.py": join(here, "fake_machine.py"),
  "/fw/conformance.py": join(here, "conformance.py"),
};

const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.FS.mkdir("/fw");
mp.FS.mkdir("/fw/tmp");
for (const [target, source] of Object.entries(files)) {
  mp.FS.writeFile(target, readFileSync(source, "utf8"));
}

try {
  mp.runPython(`
import sys
sys.path.insert(0, "/fw")
print("running under", sys.implementation.name, sys.version)
import conformance
import linebuf
import rigboard
# Imported as a module (not __main__): main() does not start, Firmware is tested with fakes.
import main as firmware_main
# The fake machine, as main.py imported it: the checks read its log and wind its clock.
env = conformance.Env(rigboard, linebuf, firmware_main.machine, firmware_main, "/fw/tmp")
failed = conformance.main(env)
`);
} catch (err) {
  console.error("MicroPython raised:\n" + String(err));
  process.exit(1);
}

const failed = mp.globals.get("failed");
process.exit(failed === 0 ? 0 : 1);

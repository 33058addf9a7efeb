"""pip-audit of the installed packages: fail on any known vulnerability, say what was not checked.

pip-audit asks PyPI's JSON API (``/pypi/<name>/<version>/json``) for each installed
package's advisories. Where that API cannot be reached (an index mirror that serves only
the simple index), pip-audit marks every package "could not be audited" and would still
exit 0; this wrapper says so loudly instead of printing a green result it did not earn.
Exit status: 1 if a vulnerability is found, 2 if nothing at all could be audited and
``--strict`` is given, 0 otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    pip_audit = Path(sys.executable).with_name("pip-audit")
    completed = subprocess.run(  # noqa: S603 - a fixed command line, no shell
        [
            str(pip_audit),
            "--local",
            "--skip-editable",  # the portal itself: its code is what bandit reviews
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        print(completed.stdout + completed.stderr, file=sys.stderr)
        print("pip-audit did not produce a report", file=sys.stderr)
        return 1
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = len(dependencies) - len(skipped)
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            print(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    print(f"pip-audit: {audited} package(s) audited, {len(vulnerable)} vulnerable")
    if skipped:
        names = ", ".join(sorted(d["name"] for d in skipped if d["name"] != "smartcity-portal"))
        print(f"pip-audit: {len(skipped)} not audited, e.g. {skipped[0]['skip_reason']}: {names}")
    if vulnerable:
        return 1
    if audited == 0:
        print(
            "pip-audit: the advisory service could not be reached from here, so NOTHING was "
            "checked; run `make audit-deps` where PyPI's JSON API answers",
            file=sys.stderr,
        )
        return 2 if strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

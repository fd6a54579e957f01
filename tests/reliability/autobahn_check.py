#!/usr/bin/env python3
"""Compare a kosoku (Autobahn) report with the committed expectations.

Every case must behave as autobahn-expected.json says. A FAILED case is only accepted when it
is refused by design (binary messages: 1003; messages over the size cap: 1009) and the server
closed with exactly that code. A case expected NON-STRICT may also pass OK: which of the two a
fail-fast case gets depends on whether the frames before the bad one arrive in the same read,
and OK is the stricter pass. Prints a summary; exits 1 on any difference.
"""

import glob
import json
import os
import sys
from collections import Counter


def main(report_dir: str, expected_path: str) -> int:
    with open(expected_path) as f:
        expected = json.load(f)
    actual = {}
    for path in glob.glob(os.path.join(report_dir, "*.json")):
        if os.path.basename(path) == "index.json":
            continue
        with open(path) as f:
            case = json.load(f)
        actual[case["id"]] = case
    problems = []
    for case_id, want in expected.items():
        got = actual.get(case_id)
        if got is None:
            problems.append(f"{case_id}: not run")
            continue
        seen = (got["behavior"], got["behaviorClose"])
        stricter = want["behavior"] == "NON-STRICT" and seen == ("OK", want["behaviorClose"])
        if seen != (want["behavior"], want["behaviorClose"]) and not stricter:
            problems.append(
                f"{case_id}: {seen[0]}/{seen[1]}, expected "
                f"{want['behavior']}/{want['behaviorClose']}: {got.get('description', '')}"
            )
        elif want["behavior"] == "FAILED" and got.get("remoteCloseCode") != want["closeCode"]:
            problems.append(
                f"{case_id}: closed with {got.get('remoteCloseCode')}, "
                f"expected {want['closeCode']} ({want['why']})"
            )
    for case_id in sorted(set(actual) - set(expected)):
        problems.append(f"{case_id}: not in the expectations")
    # A FAILED case expected so is a refusal by design, and is counted as that, not as a failure.
    tally = Counter(
        c["behavior"]
        for case_id, c in actual.items()
        if not (c["behavior"] == "FAILED" and expected.get(case_id, {}).get("behavior") == "FAILED")
    )
    by_design = Counter(
        expected[c]["closeCode"] for c in expected if expected[c]["behavior"] == "FAILED"
    )
    print(
        f"autobahn: {len(actual)} cases: "
        + ", ".join(f"{n} {b}" for b, n in sorted(tally.items()))
        + f", {sum(by_design.values())} refused by design ({by_design[1003]} binary messages, 1003;"
        f" {by_design[1009]} over the size cap, 1009)"
    )
    for problem in problems:
        print("  " + problem)
    if problems:
        print(f"autobahn: {len(problems)} case(s) differ from {expected_path}")
        return 1
    print("autobahn: every case as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

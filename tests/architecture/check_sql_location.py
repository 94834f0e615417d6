#!/usr/bin/env python3
"""Fails when SQL text or a prepare( call appears in production code outside host/store/.

All SQL lives in host/store/ (repositories written once in portable SQL, and
one folder per backend): engines, the application core, the CLI and plugins
talk to repositories. Tests may query a store directly to check its rows.
Usage: check_sql_location.py SOURCE_DIR
"""
import pathlib
import re
import sys

ROOTS = ["host", "plugins", "connectors", "plugin_support", "sdk", "examples"]
ALLOWED = ["host/store/"]
SOURCE_SUFFIXES = {".cpp", ".hpp", ".h", ".c", ".cc"}
# A string literal that starts a SQL statement, or a prepare( call.
PATTERNS = [
    re.compile(r'"\s*(SELECT|INSERT\s+INTO|INSERT\s+OR|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TEMP\s+)?TABLE|'
               r'CREATE\s+(UNIQUE\s+)?INDEX|ALTER\s+TABLE|DROP\s+TABLE|BEGIN\s+IMMEDIATE|PRAGMA)\b', re.IGNORECASE),
    re.compile(r'\bprepare\s*\('),
]


def is_test(path: pathlib.Path) -> bool:
    return path.name.endswith("_test.cpp") or "tests" in path.parts or "testing" in path.parts


def main() -> int:
    source = pathlib.Path(sys.argv[1])
    found = []
    for root in ROOTS:
        for path in sorted((source / root).rglob("*")):
            relative = path.relative_to(source).as_posix()
            if path.suffix not in SOURCE_SUFFIXES or is_test(path) or any(relative.startswith(a) for a in ALLOWED):
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if line.lstrip().startswith("//"):
                    continue
                if any(pattern.search(line) for pattern in PATTERNS):
                    found.append(f"{relative}:{number}: {line.strip()}")
    if found:
        print(f"SQL outside host/store/ ({len(found)} lines): move it into a repository under host/store/")
        print("\n".join(found))
        return 1
    print("no SQL outside host/store/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

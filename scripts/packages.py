"""Print the Debian packages of every language's host route, one per line, from the
runtime specs (runtimes/<lang>/runtime.toml, [local] debian): scripts/setup.sh installs
them. Standard library only: it runs before the project's environment exists."""

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    found: list[str] = []
    for spec in sorted((ROOT / "runtimes").glob("*/runtime.toml")):
        try:
            local = tomllib.loads(spec.read_text(encoding="utf-8")).get("local", {})
        except tomllib.TOMLDecodeError as e:
            print(f"packages.py: {spec}: {e}", file=sys.stderr)
            return 1
        for name in local.get("debian", []):
            if name not in found:
                found.append(name)
    print("\n".join(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

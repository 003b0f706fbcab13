"""Print the served size of `universal.js`: `python -m referly.static.size [--json]`.

Exits 1 when the gzipped script is over its budget."""

import json
import sys

from referly.static.build import SIZE_BUDGET, load_script, read_source


def main(argv: list[str]) -> int:
    script = load_script()
    sizes = {
        "source_bytes": len(read_source().encode()),
        "served_bytes": len(script.body),
        "gzipped_bytes": len(script.gzipped),
        "budget_gzipped_bytes": SIZE_BUDGET,
    }
    if "--json" in argv:
        print(json.dumps(sizes))
    else:
        print(
            f"universal.js: {sizes['gzipped_bytes']} bytes gzipped "
            f"(budget {SIZE_BUDGET}; served {sizes['served_bytes']}, "
            f"source {sizes['source_bytes']})"
        )
    return 0 if len(script.gzipped) <= SIZE_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The connector's program entry point (`source-partoo`, main.py, the image's ENTRYPOINT)."""

from __future__ import annotations


def main() -> None:
    from source_partoo.run import run

    run()


if __name__ == "__main__":
    main()

"""The connector's program entry point (`source-partoo`, main.py, the image's ENTRYPOINT).

What only a process that runs the connector, and nothing else, may do before it imports airbyte-cdk:

requests-cache, which airbyte-cdk imports at startup for its HTTP cache, imports boto3 (and botocore,
s3transfer, urllib3's pyOpenSSL) for its DynamoDB backend whenever boto3 is installed: 0.15 s of CPU on
every run (spec, check, discover, read; bench/run.py's `dlt-cpu` startup figure). This connector never
uses AWS, and the image does not have boto3, but a Python environment shared with PyAirbyte or a
warehouse's tools often does. Marking boto3 as not importable in this process makes requests-cache keep
its DynamoDB backend as the placeholder it uses when boto3 is absent. A program that imports
source_partoo itself (tests, PyAirbyte's in-process use) is not affected.
"""

from __future__ import annotations

import sys


def main() -> None:
    sys.modules.setdefault("boto3", None)  # type: ignore[assignment]
    from source_partoo.run import run

    run()


if __name__ == "__main__":
    main()

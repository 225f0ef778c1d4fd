"""Partoo source connector for Airbyte."""

from source_partoo._startup import skip_serializer_docstrings

skip_serializer_docstrings()  # before anything imports airbyte_cdk: see _startup.py

"""Partoo source connector for Airbyte."""

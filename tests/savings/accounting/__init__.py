"""Tests of the accounting service."""

"""Merchant activity import and the five analytics."""

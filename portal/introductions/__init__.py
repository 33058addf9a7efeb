"""Introductions: staff-brokered, double opt-in meetings between a vendor and a buyer.

The blueprint is ``portal.introductions.views.bp``, as in every feature; this package
module stays empty so that ``portal.introductions.models`` imports without the views.
"""

"""Delivery channels, one module per destination, all behind :class:`base.Channel`."""

from alerts.channels.base import Channel, ListChannel
from alerts.channels.console import ConsoleChannel

__all__ = ["Channel", "ConsoleChannel", "ListChannel"]

"""Every kind Fleetward knows, registered by importing its module.

Import :data:`KINDS` from here (not from ``resources``) so the registry is full.
"""

from schemas.clients import Client
from schemas.deployments import Deployment
from schemas.fleet import Fleet
from schemas.groups import DeviceGroup
from schemas.packages import Package
from schemas.resources import KINDS, Resource

__all__ = ["KINDS", "Client", "Deployment", "DeviceGroup", "Fleet", "Package", "Resource"]

"""Every kind Fleetward knows, registered by importing its module.

Import :data:`KINDS` from here (not from ``resources``) so the registry is full.
"""

from schemas.alerting import AlertTicketRule
from schemas.clients import Client
from schemas.deployments import Deployment
from schemas.fleet import Fleet
from schemas.groups import DeviceGroup
from schemas.licenses import License
from schemas.packages import Package
from schemas.policies import Policy
from schemas.resources import KINDS, Resource
from schemas.scripts import Script
from schemas.templates import PolicyTemplate
from schemas.warranties import Warranty
from schemas.windows import MaintenanceWindow

__all__ = [
    "KINDS", "AlertTicketRule", "Client", "Deployment", "DeviceGroup", "Fleet", "License", "MaintenanceWindow",
    "Package", "Policy", "PolicyTemplate", "Resource", "Script", "Warranty",
]

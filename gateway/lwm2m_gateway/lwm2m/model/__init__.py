"""The OMA/IPSO object model: object and resource definitions loaded from DDF XML.

`ObjectRegistry` is the one lookup the server, codecs and API use: by object id and (optionally)
the version a device announced with `ver=` in its registration.
"""

from .ddf import ModelError, ObjectModel, ResourceModel, parse_ddf
from .registry import ObjectRegistry

__all__ = ["ModelError", "ObjectModel", "ObjectRegistry", "ResourceModel", "parse_ddf"]

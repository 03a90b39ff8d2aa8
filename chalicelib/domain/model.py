"""The base of every pydantic model here.

A model's validator and serializer are built when it is first used, not when its module is
imported: an entry point then pays only for the models its handler touches (about 60 ms of the
API's cold start otherwise). Subclasses add their own ``model_config``; pydantic merges it with
this one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)

"""The ASGI application for uvicorn (`uvicorn api.main:app`): the API over the settings' registry."""

from api.app import create_app

app = create_app()

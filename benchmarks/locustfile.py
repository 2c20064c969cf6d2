"""Locust users for `python -m benchmarks serving`: one route per run, chosen by PORTAL_LOAD_ROUTE (toxicity,
detection or housing), each user calling it back to back. Inputs are fixed and bundled (no network beyond the
target, which the benchmark keeps on loopback)."""

from __future__ import annotations

import os
from pathlib import Path

from locust import HttpUser, task

ROUTE = os.environ.get("PORTAL_LOAD_ROUTE", "toxicity")
PHOTO = (Path(__file__).resolve().parent.parent / "assets" / "samples" / "coffee.jpg").read_bytes()
COMMENTS = ["Thanks, that was helpful!", "You are an idiot.", "I disagree with the second point.", "What rubbish"]
DISTRICT = {"longitude": -118.24, "latitude": 34.05, "median_income": 4.5, "ocean_proximity": "<1H OCEAN"}


class PortalUser(HttpUser):
    def on_start(self) -> None:
        self.count = 0

    @task
    def call(self) -> None:
        self.count += 1
        if ROUTE == "toxicity":
            text = f"{COMMENTS[self.count % len(COMMENTS)]} ({self.count})"
            self.client.post("/v1/toxicity/classify", json={"texts": [text]}, name="toxicity classify")
        elif ROUTE == "detection":
            self.client.post("/v1/detection", files={"image": ("c.jpg", PHOTO, "image/jpeg")}, name="detection")
        else:
            self.client.post("/v1/housing/predict", json={"districts": [DISTRICT]}, name="housing predict")

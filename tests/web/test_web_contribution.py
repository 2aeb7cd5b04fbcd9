"""Opt-in contribution to the corpus from the web app, and withdrawal by the owner.

Real corpus (parallax.corpus: privacy, quality, dedup, catalog, exports) on a real capture.
"""

from __future__ import annotations

import pytest


def _samples(http, admin_token) -> dict[str, dict]:
    r = http.get("/api/admin/corpus", headers={"authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200, r.text
    return {s["sample_id"]: s for s in r.json()["samples"]}


def _export(http, admin_token) -> set[str]:
    r = http.post("/api/admin/corpus/export", headers={"authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200, r.text
    return {sid for ids in r.json()["samples"].values() for sid in ids}


@pytest.fixture(scope="module")
def contributed(http, upload, wait_for, captures_dir, admin_token):
    """A capture uploaded and contributed with consent: (capture id, owner token, contribution record)."""
    r = upload(captures_dir / "mpo" / "sugarshack.mpo")
    assert r.status_code == 201, r.text
    cid, token = r.json()["id"], r.json()["owner_token"]
    wait_for(cid, "preview-ready")
    before = set(_samples(http, admin_token))
    body = {"consent": True, "license": "CC-BY-SA-4.0", "allow_training": True, "contributor": "web-test-owner"}
    c = http.post(f"/api/captures/{cid}/contribution", json=body, headers={"x-owner-token": token})
    assert c.status_code == 201, c.text
    return cid, token, c.json(), before


def test_web_contribution_needs_explicit_consent(http, upload, captures_dir, admin_token):
    r = upload(captures_dir / "mpo" / "frozenpond.mpo").json()
    headers = {"x-owner-token": r["owner_token"]}
    before = _samples(http, admin_token)
    for body, words in (
        ({"license": "CC-BY-4.0", "allow_training": True}, "consent"),
        ({"consent": "yes", "license": "CC-BY-4.0", "allow_training": True}, "consent"),
        ({"consent": True, "license": "all-rights-reserved", "allow_training": True}, "licence"),
        ({"consent": True, "license": "CC-BY-4.0", "allow_training": False}, "train"),
    ):
        bad = http.post(f"/api/captures/{r['id']}/contribution", json=body, headers=headers)
        assert bad.status_code == 400 and words in bad.json()["detail"], bad.text
    assert _samples(http, admin_token) == before  # nothing reached the corpus
    assert http.get(f"/api/captures/{r['id']}").json()["contribution"] is None


def test_web_contributed_capture_is_in_the_corpus_with_its_consent(http, admin_token, contributed, web_server):
    from parallax.corpus.sample import read_sample_dir

    cid, _, record, before = contributed
    sid = record["sample_id"]
    assert record["status"] == "contributed" and record["license"] == "CC-BY-SA-4.0"
    samples = _samples(http, admin_token)
    assert set(samples) - before == {sid}
    assert samples[sid]["license"] == "CC-BY-SA-4.0" and samples[sid]["contributor"] == "web-test-owner"
    assert samples[sid]["original_name"] == "sugarshack.mpo"
    sample = read_sample_dir(web_server.corpus_dir / "samples" / sid)  # verifies every file's SHA-256
    assert sample.left.shape[2] == 3
    public = http.get(f"/api/captures/{cid}").json()["contribution"]
    assert public["status"] == "contributed" and public["license"] == "CC-BY-SA-4.0"
    assert sid in _export(http, admin_token)


def test_web_withdrawn_capture_leaves_corpus_and_later_exports(http, admin_token, contributed, web_server):
    cid, token, record, _ = contributed
    sid = record["sample_id"]
    assert http.delete(f"/api/captures/{cid}/contribution").status_code == 403  # owner only
    r = http.delete(f"/api/captures/{cid}/contribution", headers={"x-owner-token": token})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert sid not in _samples(http, admin_token)
    assert not (web_server.corpus_dir / "samples" / sid).exists()
    assert sid not in _export(http, admin_token)
    # A withdrawn capture is not taken again, and cannot be withdrawn twice.
    again = http.post(
        f"/api/captures/{cid}/contribution",
        json={"consent": True, "license": "CC-BY-4.0", "allow_training": True},
        headers={"x-owner-token": token},
    )
    assert again.status_code == 400 and "withdrawn" in again.json()["detail"]
    assert http.delete(f"/api/captures/{cid}/contribution", headers={"x-owner-token": token}).status_code == 400


def test_web_deleting_a_contributed_capture_withdraws_it(http, upload, wait_for, captures_dir, admin_token, web_server):
    r = upload(captures_dir / "mpo" / "frozenpond.mpo").json()
    wait_for(r["id"], "preview-ready")
    headers = {"x-owner-token": r["owner_token"]}
    c = http.post(
        f"/api/captures/{r['id']}/contribution",
        json={"consent": True, "license": "CC0-1.0", "allow_training": True},
        headers=headers,
    )
    assert c.status_code == 201, c.text
    sid = c.json()["sample_id"]
    assert c.json()["contributor"].startswith("web-")  # no handle given: a pseudonym
    assert sid in _samples(http, admin_token)
    assert http.delete(f"/api/captures/{r['id']}", headers=headers).status_code == 204
    assert sid not in _samples(http, admin_token)
    assert not (web_server.corpus_dir / "samples" / sid).exists()

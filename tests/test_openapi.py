"""test_openapi.py: GET /openapi.json and GET /docs on a real gateway and a
real inference worker. The document is checked as OpenAPI 3.0 by the
structural rules of the specification (openapi-spec-validator is not
packaged for this Debian: the rules it would apply to this document are
written out here), every $ref resolves, the record schema lists the served
signature's fields with their types, ranges and categories, and its
example (and a real passenger) validate against it with jsonschema. /docs
renders in headless Chromium and its "try it" gets a 200 from /predict."""
import re

import pytest
import requests

from procs import Gateway, start_infer, wait_for
from serving_util import PASSENGER
from test_dashboard_browser import browser  # noqa: F401  (headless Chromium, or a skip)
from test_v2 import artifact  # noqa: F401  (the module's artifact fixture)

jsonschema = pytest.importorskip("jsonschema", reason="python3-jsonschema is not installed")

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def served(procs, artifact):  # noqa: F811
    gw = Gateway(procs)
    start_infer(procs, gw.backend, "--model", artifact, "--model-version", "5")
    gw.wait_workers(1, version=5)
    wait_for(lambda: "x-model" in requests.get(gw.url + "/openapi.json", timeout=2).json()["info"],
             what="signature at the gateway")
    return gw


def refs(node):
    """Every $ref string under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def check_openapi3(doc):
    """The OpenAPI 3.0 rules this document can break; a list of problems."""
    bad = []
    if not re.fullmatch(r"3\.0\.\d+", doc.get("openapi", "")):
        bad.append("openapi is not 3.0.x")
    info = doc.get("info", {})
    if not isinstance(info.get("title"), str) or not isinstance(info.get("version"), str):
        bad.append("info needs a title and a version (strings)")
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/"):
            bad.append("path %s does not start with /" % path)
        declared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
        templated = set(re.findall(r"{([^}]+)}", path))
        if declared != templated:
            bad.append("%s: path parameters %s declared as %s" % (path, templated, declared))
        for p in item.get("parameters", []):
            if p.get("in") == "path" and p.get("required") is not True:
                bad.append("%s: path parameter %s must be required" % (path, p.get("name")))
        for method, op in item.items():
            if method == "parameters":
                continue
            if method not in METHODS:
                bad.append("%s: %s is not an HTTP method" % (path, method))
            responses = op.get("responses")
            if not responses:
                bad.append("%s %s: no responses" % (method, path))
            for code, resp in (responses or {}).items():
                if not (code == "default" or re.fullmatch(r"[1-5](\d\d|XX)", code)):
                    bad.append("%s %s: response key %s" % (method, path, code))
                if "description" not in resp:
                    bad.append("%s %s %s: response without a description" % (method, path, code))
            if "requestBody" in op and "content" not in op["requestBody"]:
                bad.append("%s %s: requestBody without content" % (method, path))
    schemas = doc.get("components", {}).get("schemas", {})
    for ref in refs(doc):
        m = re.fullmatch(r"#/components/schemas/(\w+)", ref)
        if not m or m.group(1) not in schemas:
            bad.append("unresolved $ref " + ref)
    for op in (op for item in doc["paths"].values() for k, op in item.items() if k != "parameters"):
        for sec in op.get("security", []):
            for name in sec:
                if name not in doc.get("components", {}).get("securitySchemes", {}):
                    bad.append("security scheme %s is not declared" % name)
    return bad


def test_document_is_openapi3_with_every_path(served):
    r = requests.get(served.url + "/openapi.json", timeout=2)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert check_openapi3(doc) == []
    paths = set(doc["paths"])
    for p in ["/health", "/predict", "/predict/batch", "/metrics", "/openapi.json", "/docs",
              "/api/runs", "/api/models", "/api/workers", "/api/feedback", "/feedback", "/api/retrain", "/api/promote", "/api/rollback",
              "/v2", "/v2/health/live", "/v2/health/ready", "/v2/repository/index",
              "/v2/models/{model_name}", "/v2/models/{model_name}/ready", "/v2/models/{model_name}/infer",
              "/v2/models/{model_name}/versions/{model_version}/infer"]:
        assert p in paths, p
    assert doc["info"]["x-model"] == {"name": "titanic", "version": 5, "recipe": "titanic"}


def test_checker_catches_broken_documents():
    """The structural checker is not vacuous: each rule fires."""
    good = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a/{x}": {"parameters": [{"name": "x", "in": "path", "required": True}],
                                 "get": {"responses": {"200": {"description": "OK"}}}}},
            "components": {"schemas": {}}}
    assert check_openapi3(good) == []
    import copy
    broken = copy.deepcopy(good)
    broken["openapi"] = "3.1"
    broken["paths"]["/a/{x}"]["parameters"] = []
    broken["paths"]["/a/{x}"]["get"]["responses"] = {"abc": {}}
    broken["paths"]["/a/{x}"]["get"]["requestBody"] = {"$ref": "#/components/schemas/Nope"}
    problems = check_openapi3(broken)
    assert any("3.0.x" in p for p in problems) and any("path parameters" in p for p in problems)
    assert any("response key abc" in p for p in problems) and any("unresolved" in p for p in problems)


def test_record_schema_from_signature(served):
    doc = requests.get(served.url + "/openapi.json", timeout=2).json()
    record = doc["components"]["schemas"]["Record"]
    props = record["properties"]
    assert list(props) == ["Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]
    assert props["Pclass"]["type"] == "integer" and (props["Pclass"]["minimum"], props["Pclass"]["maximum"]) == (1, 3)
    assert props["Sex"]["enum"] == ["male", "female"] and props["Embarked"]["enum"] == ["C", "Q", "S"]
    assert props["Age"]["type"] == "number" and props["Age"]["minimum"] == 0
    assert record["required"] == ["Pclass", "Sex"]
    jsonschema.validate(record["example"], record)
    jsonschema.validate(PASSENGER, record)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(PASSENGER, Pclass=4), record)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(PASSENGER, Sex="robot"), record)
    # the example is what the model serves
    r = requests.post(served.url + "/predict", json=record["example"], timeout=5)
    assert r.status_code == 200, r.text


def test_document_without_a_model(procs):
    gw = Gateway(procs)
    doc = requests.get(gw.url + "/openapi.json", timeout=2).json()
    assert check_openapi3(doc) == []
    assert "x-model" not in doc["info"] and "properties" not in doc["components"]["schemas"]["Record"]
    r = requests.post(gw.url + "/openapi.json", timeout=2)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


def test_docs_page_try_it_in_chromium(served, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(served.url + "/docs")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#endpoints tbody tr")) >= 20)
    fields = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#fields tbody tr td:first-child")]
    assert fields == ["Pclass", "Name", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]
    browser.find_element(By.ID, "try-send").click()
    wait.until(lambda d: d.find_element(By.ID, "try-status").text.startswith("HTTP"))
    assert browser.find_element(By.ID, "try-status").text == "HTTP 200"
    assert '"model_version": 5' in browser.find_element(By.ID, "try-result").text

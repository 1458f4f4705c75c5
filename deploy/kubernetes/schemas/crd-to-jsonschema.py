#!/usr/bin/env python3
"""Turns a CustomResourceDefinition's openAPIV3Schema into a JSON schema for check-jsonschema.

    python3 crd-to-jsonschema.py CRD.yaml VERSION > OUT.json

What changes, and why:
- `description`s are dropped: the schema checks, the CRD documents.
- every object that lists `properties` and says nothing of `additionalProperties` gets
  `additionalProperties: false`, as the API server's strict field validation (kubectl's default)
  rejects an unknown field;
- `metadata`, a bare object in the CRD (the API server checks it), gets the little the API server
  would check: a name, and labels and annotations that map strings to strings.
- a pattern with Go's case-insensitive flag `(?i)`, which JSON schema's ECMAScript regexes lack,
  spells each letter both ways instead (`(?i)warn` -> `[wW][aA][rR][nN]`);
- `x-kubernetes-*` keys stay: JSON schema ignores them.
"""
import json
import sys

import yaml


def ecma(pattern):
    if "(?i)" not in pattern:
        return pattern
    rest = pattern.replace("(?i)", "")
    if "[" in rest or "\\" in rest:
        sys.exit(f"cannot rewrite the case-insensitive pattern {pattern!r}: it has a class or an escape")
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else c for c in rest)


def strict(node):
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items() if k != "description"}
        if isinstance(out.get("pattern"), str):
            out["pattern"] = ecma(out["pattern"])
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def main():
    path, version = sys.argv[1], sys.argv[2]
    with open(path) as f:
        crd = next(d for d in yaml.safe_load_all(f) if d)
    spec = crd["spec"]
    served = next(v for v in spec["versions"] if v["name"] == version)
    schema = strict(served["schema"]["openAPIV3Schema"])
    api_version = f"{spec['group']}/{version}"
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [api_version]}
    schema["properties"]["kind"] = {"type": "string", "enum": [spec["names"]["kind"]]}
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"},
                       "labels": strings, "annotations": strings},
    }
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    out = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{spec['names']['kind']} ({api_version}), from the CRD {crd['metadata']['name']}"
        f" of prometheus-operator {crd['metadata'].get('annotations', {}).get('operator.prometheus.io/version', '?')}",
        **schema,
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

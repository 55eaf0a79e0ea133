"""The JSON Schema (2020-12) of LossVec v1 vector files, written to conformance/schemas/ by the generator."""

from __future__ import annotations

from refloss._registry import KINDS
from refloss.conformance.errors import CATEGORIES

__all__ = ["SCHEMA"]

_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{16}$"}
_DECIMAL = {"type": "string",
            "pattern": r"^(nan|inf|-inf|0|-?[0-9](\.[0-9]+)?(e[-+][0-9]+)?|-?0\.[0-9]+|-?[0-9]+\.[0-9]+)$"}
_HEX_ANY_WIDTH = {"type": "string", "pattern": "^([0-9a-f]{4}|[0-9a-f]{8}|[0-9a-f]{16})$"}
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 0}}
_DTYPE = {"enum": ["float64", "float32", "float16", "bfloat16"]}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "lossvec_v1.schema.json",
    "title": "LossVec v1 (minor versions 0 to 3): golden vectors for one function (a loss, box geometry, a box "
             "coder, a selection or a detector loss) and one concern",
    "type": "object",
    "additionalProperties": False,
    "required": ["format", "formatVersion", "suiteVersion", "function", "concern", "numberOfTests", "notes",
                 "conventions", "provenance", "testGroups"],
    "properties": {
        "format": {"const": "lossvec"},
        "formatVersion": {"const": 1},
        "formatMinorVersion": {"type": "integer", "minimum": 0,
                               "description": "absent or 0: policy_v1, one scale per tensor; 1: policy_v2, one scale "
                                              "per entry, gradients listed per test, error categories enumerated; 2: "
                                              "functions other than losses (function.kind; no reduction; no "
                                              "cotangent without a VJP; choice parameters; integer indices); 3: "
                                              "detector losses (function.terms); 4: flags as {\"boolean\": ...}"},
        "suiteVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "function": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "family", "summary", "inputs", "differentiable", "parameters", "defaultReduction"],
            "properties": {
                "name": {"type": "string"}, "family": {"type": "string"}, "summary": {"type": "string"},
                "kind": {"enum": list(KINDS), "description": "absent: loss"},
                "inputs": {"type": "array", "items": {"type": "string"}},
                "differentiable": {"type": "array", "items": {"type": "string"}},
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                "defaultReduction": {"enum": ["none", "mean", "sum", None], "description": "null: no reduction"},
                "terms": {"type": "array", "items": {"type": "string"},
                          "description": "a detector loss: the names of its terms; its value is the vector (total, "
                                         "*terms) and its cotangent has one entry per output, in that order"},
            },
        },
        "concern": {"type": "string"},
        "numberOfTests": {"type": "integer", "minimum": 0},
        "notes": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["category", "description"],
            "properties": {"category": {"type": "string"}, "description": {"type": "string"},
                           "effect": {"type": "string"}}}},
        "conventions": {"type": "object", "additionalProperties": {"type": "string"}},
        "provenance": {"type": "object"},
        "testGroups": {"type": "array", "items": {"$ref": "#/$defs/group"}},
    },
    "$defs": {
        "tensor": {
            "type": "object", "additionalProperties": False, "required": ["shape"],
            "properties": {"shape": _SHAPE, "bits": {"type": "array", "items": _HEX64},
                           "ints": {"type": "array", "items": {"type": "integer"}}},
            "oneOf": [{"required": ["bits"]}, {"required": ["ints"]}],
        },
        "expectedTensor": {
            "type": "object", "additionalProperties": False, "required": ["shape", "exact", "rounded", "scale"],
            "properties": {
                "shape": _SHAPE,
                "exact": {"type": "array", "items": _DECIMAL},
                "rounded": {"type": "object", "propertyNames": _DTYPE, "additionalProperties": {
                    "type": "array", "items": _HEX_ANY_WIDTH}},
                "scale": {"oneOf": [_DECIMAL, {"type": "array", "items": _DECIMAL}]},
                "interval": {"type": "object", "additionalProperties": False, "required": ["lo", "hi"],
                             "properties": {"lo": {"type": "array", "items": _DECIMAL},
                                            "hi": {"type": "array", "items": _DECIMAL}}},
            },
        },
        "expectation": {"oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["name", "value", "grads"],
             "properties": {"name": {"type": "string"}, "value": {"$ref": "#/$defs/expectedTensor"},
                            "grads": {"type": "object", "additionalProperties": {"$ref": "#/$defs/expectedTensor"}}}},
            {"type": "object", "additionalProperties": False, "required": ["name", "indices"],
             "description": "a selection's integer answer (NMS: the kept indices in order), compared exactly",
             "properties": {"name": {"type": "string"}, "indices": {"$ref": "#/$defs/tensor"}}},
        ]},
        "test": {
            "type": "object", "additionalProperties": False,
            "required": ["tcId", "uid", "name", "comment", "flags", "result", "attributes", "inputs"],
            "properties": {
                "tcId": {"type": "integer", "minimum": 1},
                "uid": {"type": "string", "pattern": "^[a-z0-9_]+-[0-9a-f]{12}$"},
                "name": {"type": "string"},
                "comment": {"type": "string"},
                "flags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "result": {"enum": ["valid", "acceptable", "invalid"]},
                "attributes": {"type": "object", "properties": {"reduction": {"type": "string"}},
                               "additionalProperties": {"oneOf": [
                                   {"$ref": "#/$defs/tensor"},
                                   {"type": "object", "additionalProperties": False, "required": ["choice"],
                                    "properties": {"choice": {"type": "string"}}},
                                   {"type": "object", "additionalProperties": False, "required": ["boolean"],
                                    "properties": {"boolean": {"type": "boolean"}}}]}},
                "inputs": {"type": "object", "additionalProperties": {"$ref": "#/$defs/tensor"}},
                "cotangent": {"$ref": "#/$defs/tensor"},
                "expected": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/expectation"}},
                "error": {"type": "object", "additionalProperties": False, "required": ["category"],
                          "properties": {"category": {"enum": sorted(CATEGORIES)}}},
            },
            "allOf": [
                {"if": {"properties": {"result": {"const": "invalid"}}},
                 "then": {"required": ["error"], "not": {"required": ["expected"]}},
                 "else": {"required": ["expected"], "not": {"required": ["error"]}}},
            ],
        },
        "group": {
            "type": "object", "additionalProperties": False, "required": ["groupId", "dtypes", "tolerance", "tests"],
            "properties": {
                "groupId": {"type": "string"},
                "dtypes": {"type": "array", "items": _DTYPE, "minItems": 1, "uniqueItems": True},
                "tolerance": {"type": "object", "required": ["policy"], "properties": {"policy": {"type": "string"}}},
                "tests": {"type": "array", "items": {"$ref": "#/$defs/test"}},
            },
        },
    },
}

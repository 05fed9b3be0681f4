"""Holds `reqlab trace <id> --format otlp` to the OTLP protobuf schema (tests/trace_otlp.rs).

Reads the JSON from each file named as an argument, or from stdin; parses it into
opentelemetry.proto.collector.trace.v1 ExportTraceServiceRequest with protobuf's json_format,
which refuses unknown fields and values of the wrong type; checks the ids and the parent links;
prints the number of spans (per file, when there are several). Any problem ends the script
with an error naming the file and a non-zero status.
"""

import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

# OTLP/JSON writes these bytes fields as hex strings (the OTLP specification, "JSON Protobuf
# Encoding"), while the standard protobuf JSON mapping, which json_format implements, expects
# base64 for bytes fields. So, as the specification notes, they are converted from hex to
# base64 before json_format.Parse. Unconverted, Parse would not even complain: hex digits are
# base64 characters too, so a 32-digit trace id would silently decode to 24 wrong bytes.
# bytes.fromhex refuses anything that is not hex.
ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def hex_ids_to_base64(node, where="$"):
    """Rewrites every id field below `node` from hex to base64, checking its length."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}"
            if key in ID_FIELDS and isinstance(value, str):
                raw = bytes.fromhex(value)
                if len(raw) != ID_FIELDS[key]:
                    sys.exit(f"{path}: {len(raw)} bytes, expected {ID_FIELDS[key]}")
                if value != value.lower():
                    sys.exit(f"{path}: {value!r} is not lowercase hex")
                node[key] = base64.b64encode(raw).decode("ascii")
            else:
                hex_ids_to_base64(value, path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            hex_ids_to_base64(value, f"{where}[{i}]")


def main():
    files = sys.argv[1:]
    if not files:
        print(f"spans: {validate(sys.stdin.read())}")
    elif len(files) == 1:
        print(f"spans: {validate(open(files[0]).read())}")
    else:
        for name in files:
            try:
                count = validate(open(name).read())
            except SystemExit as e:
                sys.exit(f"{name}: {e.code}")
            print(f"{name}: spans: {count}")


def validate(text):
    """Parses one export; returns its span count, or exits saying what is wrong."""
    document = json.loads(text)
    hex_ids_to_base64(document)
    try:
        request = json_format.Parse(json.dumps(document), ExportTraceServiceRequest())
    except json_format.ParseError as e:
        sys.exit(f"not an OTLP ExportTraceServiceRequest: {e}")

    spans = [
        span
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    if not spans:
        sys.exit("no spans")
    ids = {span.span_id for span in spans}
    if len(ids) != len(spans):
        sys.exit("span ids repeat")
    if len({span.trace_id for span in spans}) != 1:
        sys.exit("the spans belong to more than one trace")
    # One span, the request's, has no parent in the file: none, or a caller's span elsewhere.
    roots = [span for span in spans if span.parent_span_id not in ids]
    if len(roots) != 1:
        sys.exit(f"{len(roots)} spans have no parent in the file, expected one")
    for span in spans:
        if len(span.trace_id) != 16 or len(span.span_id) != 8:
            sys.exit(f"span {span.name!r} has ids of the wrong size")
        if span.end_time_unix_nano < span.start_time_unix_nano:
            sys.exit(f"span {span.name!r} ends before it starts")
    return len(spans)


if __name__ == "__main__":
    main()

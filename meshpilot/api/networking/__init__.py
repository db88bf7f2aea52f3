# Generated from protos/ by tools/gen_protos.py. DO NOT EDIT.

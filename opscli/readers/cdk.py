"""The CDK's own bookkeeping in a template: no AWS resource to read."""

from __future__ import annotations

from opscli.readers.base import no_reader

no_reader("AWS::CDK::Metadata", "CDK bookkeeping; no AWS resource")

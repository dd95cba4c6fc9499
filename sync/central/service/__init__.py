"""What the central does, independent of HTTP: one module per concern, every public name re-exported here.

Callers (the sync API's views, the CLI, the back office, the benchmarks and the tests) write
``from sync.central import service`` and ``service.store_batch(...)``. Why one face rather than importing
each module: a caller needs the central's operations, not where they are kept, so the modules below can be
split further or merged without touching any caller, and a newcomer reading a view sees one vocabulary. To
find where a name lives, read the table; each module's docstring says what it owns. Nothing here knows about
requests or responses: it raises the errors of sync/central/errors.py, and the app's handlers answer them.

===================  =======================================================================================
``gateways``         registering, rotating and revoking gateways' secrets (audited); what each last reported
``batches``          storing a batch at most once and the acknowledged seq (the uplink)
``ownership``        what a batch may claim: identities of its own gateway, seqs not used by another record
``columns``          a batch's records as table columns, inserted in one statement (the ingest's hot path)
``changes``          the changes feed (the downlink): publishing content, cursors, one page of changes
``submissions``      an officer's decision sent down to the kiosk; what a kiosk may show of a number
``files``            documents' bytes stored by sha256, and announcing a document
``exports``          every reading or submission as rows, streamed
``formats``          times, stored JSON text, sha256 names
===================  =======================================================================================
"""

from sync.central.errors import CentralError, RecordsRejected, Unavailable
from sync.central.service.batches import store_batch
from sync.central.service.changes import (
    changes_since,
    format_cursor,
    parse_cursor,
    publish_content,
    set_config,
)
from sync.central.service.exports import export_readings, export_submissions
from sync.central.service.files import file_path, publish_document, store_file
from sync.central.service.formats import iso_utc, now_ms
from sync.central.service.gateways import (
    add_gateway,
    audit_log,
    gateway_id_for,
    gateway_secret,
    overview,
    remove_gateway,
    rotate_secret,
    touch_gateway,
)
from sync.central.service.ownership import number_prefix
from sync.central.service.submissions import set_submission_status, status_lookup

__all__ = [
    "CentralError",
    "RecordsRejected",
    "Unavailable",
    "add_gateway",
    "audit_log",
    "changes_since",
    "export_readings",
    "export_submissions",
    "file_path",
    "format_cursor",
    "gateway_id_for",
    "gateway_secret",
    "iso_utc",
    "now_ms",
    "number_prefix",
    "overview",
    "parse_cursor",
    "publish_content",
    "publish_document",
    "remove_gateway",
    "rotate_secret",
    "set_config",
    "set_submission_status",
    "status_lookup",
    "store_batch",
    "store_file",
    "touch_gateway",
]

"""Chain of custody: workspace store, users and keys, cases and evidence, the sealed decoder,
two-person unlock (requests and grants), reveal, and the signed Merkle audit log.

Qt-free; the GUI and the CLI call these same functions. See docs/ARCHITECTURE.md
"Custody API" for the public interface.
"""

from forensics_app.core.custody.audit import (
    AuditLog,
    AuditVerificationError,
    Checkpoint,
    InclusionProof,
    load_checkpoint_file,
    verify_entry,
    verify_inclusion_proof,
)
from forensics_app.core.custody.cases import (
    Case,
    EvidenceRecord,
    add_evidence,
    create_case,
    get_case,
    get_evidence,
    list_cases,
    list_evidence,
    reopen_evidence,
)
from forensics_app.core.custody.integrity import check_state_logged, verify_workspace
from forensics_app.core.custody.reveal import (
    RevealedFace,
    RevealedFrame,
    RevealSession,
    check_output_folder,
)
from forensics_app.core.custody.sealed import (
    SealedModel,
    destroy_plaintext,
    load_sealed,
    seal_bytes,
    seal_model,
)
from forensics_app.core.custody.sealed_encoder import (
    SealedEncoder,
    destroy_encoder_plaintext,
    open_sealed_encoder,
    seal_encoder,
    seal_encoder_bytes,
)
from forensics_app.core.custody.transfer import (
    export_grant,
    export_request,
    import_grant,
    import_request,
)
from forensics_app.core.custody.unlock import (
    RequestInfo,
    UnlockGrant,
    UnlockRequest,
    approve,
    check_frames_exist,
    check_grant,
    check_grant_live,
    create_request,
    deny,
    get_grant,
    get_request,
    list_grants,
    list_requests,
    parse_duration,
    parse_frames,
    revocation,
    revoke,
    usable_grants,
)
from forensics_app.core.custody.users import (
    ROLES,
    LoginPolicy,
    User,
    UserSession,
    add_user,
    get_user,
    list_users,
    login,
    unlock_user,
)
from forensics_app.core.custody.workspace import Workspace

__all__ = [
    "ROLES", "AuditLog", "AuditVerificationError", "Case", "Checkpoint", "EvidenceRecord",
    "InclusionProof", "LoginPolicy", "RequestInfo", "RevealSession", "RevealedFace",
    "RevealedFrame", "SealedEncoder", "SealedModel", "UnlockGrant", "UnlockRequest", "User",
    "UserSession", "Workspace", "add_evidence", "add_user", "approve", "check_frames_exist",
    "check_grant", "check_grant_live", "check_output_folder", "check_state_logged",
    "create_case", "create_request", "deny", "destroy_encoder_plaintext", "destroy_plaintext", "export_grant", "export_request", "get_case",
    "get_evidence", "get_grant", "get_request", "get_user", "import_grant", "import_request",
    "list_cases", "list_evidence", "list_grants", "load_checkpoint_file", "list_requests", "list_users", "load_sealed",
    "login", "open_sealed_encoder", "parse_duration", "parse_frames", "reopen_evidence", "revocation", "revoke",
    "seal_bytes", "seal_encoder", "seal_encoder_bytes", "seal_model", "unlock_user", "usable_grants", "verify_entry", "verify_inclusion_proof",
    "verify_workspace",
]  # fmt: skip

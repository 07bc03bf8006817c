"""Signed releases: `manifest.json` signed offline with an SSH key, the way git signs commits.

`ssh-keygen -Y sign` (OpenSSH ≥ 8.1) needs no Python package, takes the keys people already have
(Ed25519, ECDSA, RSA, FIDO security keys, a key held by ssh-agent) and writes a standard
`SSHSIG` signature that anyone can check with `ssh-keygen -Y verify` alone. The signature is
bound to the namespace "tfport-release", so a key's signature on a commit or a file made for
another purpose never passes for a release. The manifest holds every released file's SHA-256,
so signing it signs the release.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tfport.atomic import write_text_atomically
from tfport.errors import EXIT_PARITY_FAILED, BadInputError, RuntimeMissingError, TfportError

NAMESPACE = "tfport-release"
SIGNATURE_SUFFIX = ".sig"  # manifest.json.sig, as `ssh-keygen -Y sign FILE` names it
PRINCIPAL = "release-signer"  # the one identity of the allowed-signers file verification builds


class SignatureError(TfportError):
    """The release's signature is missing or does not verify with the key given: it fails like a changed file."""

    exit_code = EXIT_PARITY_FAILED


def signature_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + SIGNATURE_SUFFIX)


def check_signing_key(key: Path) -> None:
    """Sign a few bytes with `key` before any work is done, so a wrong path, a public key without
    its agent or a passphrase that cannot be asked for fails in a second, not after the conversions."""
    _require_key_file(key, "--sign")
    _sign_bytes(key, b"tfport signing key check\n")


def sign_manifest(manifest: Path, key: Path) -> Path:
    """Write `manifest.json.sig` beside the manifest; returns its path."""
    signature = _sign_bytes(key, manifest.read_bytes())
    write_text_atomically(signature_path(manifest), signature)
    return signature_path(manifest)


def verify_signature(manifest: Path, public_key: Path) -> str:
    """Check `manifest.json.sig` against `public_key`; returns ssh-keygen's confirmation line.

    Raises SignatureError when the release is unsigned or the signature does not verify."""
    _require_key_file(public_key, "--key")
    key_line = public_key.read_text(encoding="utf-8", errors="replace").strip()
    if "PRIVATE KEY" in key_line:
        raise BadInputError(f"--key {public_key} is a private key — pass its public half ({public_key}.pub)")
    signature = signature_path(manifest)
    if not signature.is_file():
        raise SignatureError(f"{manifest.parent} is not signed (no {signature.name}) and --key {public_key} was "
                             "given — refusing it: make the release with `tfport release … --sign KEY`")
    with tempfile.TemporaryDirectory(prefix="tfport-verify-") as scratch:
        allowed = Path(scratch) / "allowed_signers"
        allowed.write_text(f'{PRINCIPAL} namespaces="{NAMESPACE}" {key_line}\n', encoding="utf-8")
        completed = _ssh_keygen(["-Y", "verify", "-f", str(allowed), "-I", PRINCIPAL, "-n", NAMESPACE,
                                 "-s", str(signature)], manifest.read_bytes())
    if completed.returncode == 0:
        return completed.stdout.decode(errors="replace").strip()
    if _says(completed, "invalid key", "not a public key", "invalid format"):
        raise BadInputError(f"--key {public_key} is not an SSH public key ({_reason(completed)}) — pass "
                            "e.g. ~/.ssh/id_ed25519.pub")
    # Is the signature sound for some other key? Then the manifest is intact but someone else signed it.
    anyone = _ssh_keygen(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(signature)], manifest.read_bytes())
    why = ("it was signed with another key" if anyone.returncode == 0
           else "the manifest changed after it was signed, or the signature is damaged")
    raise SignatureError(f"{manifest} does not verify with --key {public_key}: {why} ({_reason(completed)}) — "
                         "do not trust this release")


def _require_key_file(key: Path, option: str) -> None:
    if not Path(key).is_file():
        raise BadInputError(f"{option} {key}: no such key file — pass an SSH key, e.g. ~/.ssh/id_ed25519"
                            f"{'.pub' if option == '--key' else ''}")


def _sign_bytes(key: Path, data: bytes) -> str:
    completed = _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", NAMESPACE], data)
    if completed.returncode != 0 or b"BEGIN SSH SIGNATURE" not in completed.stdout:
        raise BadInputError(f"--sign {key}: ssh-keygen cannot sign with it ({_reason(completed)}) — pass an "
                            "unencrypted private key, or a public key whose private half ssh-agent holds")
    return completed.stdout.decode()


def _ssh_keygen(arguments: list[str], data: bytes) -> subprocess.CompletedProcess:
    program = shutil.which("ssh-keygen")
    if program is None:
        raise RuntimeMissingError("ssh-keygen is not installed, and signing uses it — install OpenSSH's client "
                                  "(apt-get install openssh-client)")
    # stdin carries the data, so ssh-keygen can never wait for a passphrase on it
    return subprocess.run([program, *arguments], input=data, capture_output=True, timeout=60)


def _says(completed: subprocess.CompletedProcess, *phrases: str) -> bool:
    text = (completed.stderr + completed.stdout).decode(errors="replace").lower()
    return any(phrase in text for phrase in phrases)


def _reason(completed: subprocess.CompletedProcess) -> str:
    """ssh-keygen's last words, on stderr or (for a failed verification) stdout."""
    lines = [line for line in (completed.stderr or completed.stdout).decode(errors="replace").splitlines()
             if line.strip()]
    return f"ssh-keygen: {lines[-1].strip()}" if lines else f"ssh-keygen exited with {completed.returncode}"

"""``fleetward seal``: encrypt a value for the fleet repository; ``fleetward seal key show|rotate``.

Sealing needs only the controller's public key, taken from one of:

* ``--data-dir DIR``: the controller's own key folder (on the controller's machine);
* ``--public-key FILE``: what ``fleetward seal key show`` printed (or its JSON, or a PEM);
* ``--server URL``: ``GET /api/seal/public-key`` of a running controller (no token needed).

The value comes from stdin (a terminal is asked without echo) or ``--from-file``. One
trailing newline (``echo``, editors) is stripped with a warning on stderr unless
``--keep-newline``; an empty value is refused. stdout carries the sealed string and
nothing else, so ``$(fleetward seal ...)`` and pipes work.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from controller.cli.options import default_data_dir
from controller.errors import ConfigError, SourceUnavailable
from controller.outbound import is_loopback
from controller.secrets import MAX_PLAINTEXT_BYTES, KeyFolder, PublicSealingKey, parse_public_key, seal
from controller.secrets.public_keys import MAX_PUBLIC_KEY_TEXT

PUBLIC_KEY_PATH = "/api/seal/public-key"
_READ_LIMIT = MAX_PLAINTEXT_BYTES + 2  # room for the line ending that is stripped


def register(commands: Any) -> None:
    sealer = commands.add_parser(
        "seal", help="encrypt a value (licence key, credential) for the fleet repository",
        description="Read a value from stdin (or --from-file) and print it sealed to the controller's public "
                    "key: 'sealed:v1:<key id>:<payload>', for a field that takes a sealed value. Only the "
                    "controller can open it. One trailing newline is stripped (with a warning) unless "
                    "--keep-newline.",
        epilog="examples: printf '%s' \"$KEY\" | fleetward seal --server https://fleet.example.com\n"
               "          fleetward seal --public-key controller.pub --from-file psa-password.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    source = sealer.add_mutually_exclusive_group()
    source.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="seal with the key in DIR/keys/ (the controller's data dir; default: "
                             "$FLEETWARD_DATA_DIR, else ~/.local/share/fleetward)")
    source.add_argument("--public-key", type=Path, metavar="FILE",
                        help="seal with a public key saved from 'fleetward seal key show'")
    source.add_argument("--server", metavar="URL", help="seal with the public key of the controller at URL")
    sealer.add_argument("--from-file", type=Path, metavar="FILE", help="read the value from FILE, not stdin")
    sealer.add_argument("--keep-newline", action="store_true",
                        help="keep a trailing newline as part of the value")
    sealer.add_argument("--key-id", metavar="ID",
                        help="refuse unless the public key has this id (pin the key you expect)")
    sealer.add_argument("--allow-insecure-http", action="store_true",
                        help="with --server: allow plain http to a non-loopback address (labs only)")
    sealer.set_defaults(handler=run_seal)

    actions = sealer.add_subparsers(dest="seal_command", metavar="key", required=False)
    key = actions.add_parser("key", help="show or rotate the controller's sealing key")
    key_actions = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    show = key_actions.add_parser(
        "show", help="print the public sealing key: 'x25519 <base64> <key id>'",
        description="Print the public key that seals (the newest). Save it to a file and hand it to "
                    "technicians for 'fleetward seal --public-key FILE'. Makes the first key pair if there "
                    "is none.")
    show.add_argument("--all", action="store_true", help="every key that opens, oldest first (the last seals)")
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.add_argument("--data-dir", dest="key_data_dir", type=Path, metavar="DIR", help="the controller's data dir")
    show.set_defaults(handler=run_key_show)

    rotate = key_actions.add_parser(
        "rotate", help="make a new key pair that seals from now on",
        description="Values sealed to older keys keep opening until their key file is removed from "
                    "<data dir>/keys/. A running controller picks the new key up without a restart.")
    rotate.add_argument("--data-dir", dest="key_data_dir", type=Path, metavar="DIR",
                        help="the controller's data dir")
    rotate.set_defaults(handler=run_key_rotate)


def run_seal(args: argparse.Namespace) -> int:
    public_key = _public_key(args)
    if args.key_id and args.key_id != public_key.key_id:
        raise ConfigError(f"the public key's id is {public_key.key_id}, not {args.key_id}",
                          hint="check which controller you are sealing for; nothing was sealed")
    value = _read_value(args)
    sealed = seal(value, public_key)
    print(sealed)
    return 0


def run_key_show(args: argparse.Namespace) -> int:
    keyring = _folder(args).ensure()
    keys = [pair.public for pair in keyring.pairs] if args.all else [keyring.sealing_key]
    if args.format == "json":
        documents = [key.document() for key in keys]
        print(json.dumps(documents if args.all else documents[0], indent=2))
    else:
        for key in keys:
            print(key.line())
    return 0


def run_key_rotate(args: argparse.Namespace) -> int:
    folder = _folder(args)
    before = folder.keyring().ids
    pair = folder.rotate()
    print(pair.public.line())
    if before:
        print(f"note: new values are sealed to {pair.key_id}; values sealed to {', '.join(before)} keep opening "
              f"until you remove those key files from {folder.path}", file=sys.stderr)
    return 0


def _folder(args: argparse.Namespace) -> KeyFolder:
    chosen: Path | None = getattr(args, "key_data_dir", None) or getattr(args, "data_dir", None)
    return KeyFolder((chosen or default_data_dir()).expanduser().resolve() / "keys")


def _public_key(args: argparse.Namespace) -> PublicSealingKey:
    if args.public_key is not None:
        return _from_file(args.public_key)
    if args.server:
        return _from_server(args.server, allow_insecure=args.allow_insecure_http)
    return _folder(args).ensure().sealing_key


def _from_file(path: Path) -> PublicSealingKey:
    try:
        with path.open("r", encoding="utf-8") as handle:
            text = handle.read(MAX_PUBLIC_KEY_TEXT + 1)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read --public-key {path}: {reason}") from None
    return parse_public_key(text, origin=f"--public-key {path}")


def _from_server(server: str, *, allow_insecure: bool) -> PublicSealingKey:
    parts = urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"--server {server!r} is not an http(s) URL", hint="for example https://fleet.example.com")
    if parts.scheme == "http" and not allow_insecure and not is_loopback(parts.hostname):
        raise ConfigError(f"--server {server} is plain http: anyone on the way could hand you their own key",
                          hint="use https, or --allow-insecure-http in a lab")
    url = server.rstrip("/") + PUBLIC_KEY_PATH
    try:
        response = httpx.get(url, timeout=30, follow_redirects=False)
    except httpx.HTTPError as error:
        raise SourceUnavailable(f"cannot reach {server}: {error}") from None
    if response.status_code != 200:
        raise SourceUnavailable(f"{url} answered {response.status_code}",
                                hint="is this a Fleetward controller, and new enough to seal?")
    if len(response.content) > MAX_PUBLIC_KEY_TEXT:
        raise ConfigError(f"{url} answered with {len(response.content)} bytes; that is not a public key")
    return parse_public_key(response.text, origin=f"the public key from {server}")


def _read_value(args: argparse.Namespace) -> str:
    data: bytes
    if args.from_file is not None:
        try:
            with args.from_file.open("rb") as handle:
                data = handle.read(_READ_LIMIT + 1)
        except OSError as error:
            raise ConfigError(f"cannot read --from-file {args.from_file}: {error.strerror}") from None
    elif sys.stdin.isatty():
        data = getpass.getpass("value to seal (not shown): ").encode("utf-8")
    else:
        data = sys.stdin.buffer.read(_READ_LIMIT + 1)
    if len(data) > _READ_LIMIT:
        raise ConfigError(f"the value is over {MAX_PLAINTEXT_BYTES} bytes; that is more than can be sealed",
                          hint="keep large credentials (certificates, key files) out of the fleet repository")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("the value is not UTF-8 text; only text can be sealed",
                          hint="encode binary secrets as base64 first") from None
    if not args.keep_newline:
        for ending in ("\r\n", "\n"):
            if text.endswith(ending):
                text = text[: -len(ending)]
                print("warning: removed the trailing newline from the value (echo and editors add one); "
                      "pass --keep-newline to seal it as part of the value", file=sys.stderr)
                break
    if not text:
        raise ConfigError("nothing to seal: the value is empty",
                          hint="pipe the value in (printf '%s' \"$VALUE\" | fleetward seal ...) or use --from-file")
    return text

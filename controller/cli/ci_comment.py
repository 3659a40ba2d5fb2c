"""``fleetward ci comment``: keep one sticky plan comment on a pull or merge request up to date.

Run in the fleet repository's CI after ``fleetward plan --server ... > plan.md``. The comment
carries a hidden marker; the first run creates it, later runs edit it, so a pull request
shows one plan, always the latest. Speaks the GitHub REST API (issue comments) and the
GitLab REST API (merge request notes); where to post comes from the CI's own variables.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from controller.errors import ConfigError, SourceUnavailable

MARKER = "<!-- fleetward-plan -->"
MAX_BODY = 60_000  # both hosts cap comments around 64 KiB


@dataclass(frozen=True)
class Target:
    provider: str
    list_url: str
    create_url: str
    edit_url: str  # with {id}
    headers: dict[str, str]
    edit_method: str


def github_target(env: dict[str, str], number: str | None) -> Target:
    token = env.get("GITHUB_TOKEN", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not token or not repository or not number:
        raise ConfigError("GitHub needs GITHUB_TOKEN, GITHUB_REPOSITORY and --number (the pull request)")
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    base = f"{api}/repos/{repository}"
    return Target("github", f"{base}/issues/{number}/comments?per_page=100", f"{base}/issues/{number}/comments",
                  f"{base}/issues/comments/{{id}}",
                  {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}, "PATCH")


def gitlab_target(env: dict[str, str], number: str | None) -> Target:
    token = env.get("FLEETWARD_GITLAB_TOKEN", "") or env.get("GITLAB_TOKEN", "")
    project = env.get("CI_PROJECT_ID", "")
    iid = number or env.get("CI_MERGE_REQUEST_IID", "")
    if not token or not project or not iid:
        raise ConfigError("GitLab needs FLEETWARD_GITLAB_TOKEN (a project access token with api scope), "
                          "CI_PROJECT_ID and CI_MERGE_REQUEST_IID")
    api = env.get("CI_API_V4_URL", "https://gitlab.com/api/v4").rstrip("/")
    base = f"{api}/projects/{project}/merge_requests/{iid}/notes"
    return Target("gitlab", f"{base}?per_page=100", base, f"{base}/{{id}}", {"PRIVATE-TOKEN": token}, "PUT")


def post_sticky(target: Target, text: str, client: httpx.Client) -> tuple[str, int]:
    """Create or update the marked comment; ("created"|"updated", comment id)."""
    body = f"{MARKER}\n{text}"
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY] + "\n\n… (plan truncated; see the status branch for all of it)"
    listing = client.get(target.list_url, headers=target.headers)
    _check(listing, "list comments")
    existing = [item for item in listing.json() if MARKER in str(item.get("body", ""))]
    if existing:
        comment_id = int(existing[0]["id"])
        edited = client.request(target.edit_method, target.edit_url.format(id=comment_id),
                                headers=target.headers, json={"body": body})
        _check(edited, "update the plan comment")
        return "updated", comment_id
    created = client.post(target.create_url, headers=target.headers, json={"body": body})
    _check(created, "create the plan comment")
    data: dict[str, Any] = created.json()
    return "created", int(data["id"])


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise SourceUnavailable(f"could not {what}: HTTP {response.status_code} {response.text[:200]}")


def register(commands: Any) -> None:
    ci = commands.add_parser("ci", help="helpers for the fleet repository's CI")
    actions = ci.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    comment = actions.add_parser(
        "comment", help="post or update the sticky plan comment on a pull/merge request",
        description="Post FILE as the one Fleetward plan comment of the pull request (GitHub) or merge "
                    "request (GitLab), editing it when it already exists.")
    comment.add_argument("--provider", choices=["github", "gitlab"], required=True)
    comment.add_argument("--body-file", type=Path, required=True, metavar="FILE")
    comment.add_argument("--number", metavar="N", help="pull request number / merge request iid")
    comment.set_defaults(handler=run_comment)


def run_comment(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    target = github_target(env, args.number) if args.provider == "github" else gitlab_target(env, args.number)
    try:
        text = args.body_file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read --body-file: {error.strerror}") from None
    with httpx.Client(timeout=30) as client:
        done, comment_id = post_sticky(target, text, client)
    print(f"{done} plan comment {comment_id}", file=sys.stderr)
    return 0

"""The simulator's web pages: what github.com would show, plain enough to read in a terminal.

The `html_url` of every simulated object points here (repositories, pull requests with their
comments and checks, files), so the links the service writes in comments lead somewhere.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import anyio.to_thread

from pangeo_forge_orchestrator.sandbox.simulator import Receive, Scope, Send, Simulator
from pangeo_forge_orchestrator.sandbox.state import Pull, Repo

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f6f8fa;padding:.8rem;overflow:auto;white-space:pre-wrap}}
.box{{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}}
.muted{{color:#57606a;font-size:.9em}}</style></head><body>
<p class="muted">Pangeo Forge sandbox — simulated GitHub</p>{body}</body></html>"""
PULL = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pull/(?P<number>\d+)/?\Z")
BLOB = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?:blob|tree)/(?P<ref>[^/]+)/(?P<path>.*)\Z")
REPO = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)(?:/.*)?\Z")


class WebPages:
    """An ASGI app of read-only HTML pages over the simulator's state."""

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, root_path = scope["path"], scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        status, title, body = await anyio.to_thread.run_sync(self.render, path or "/")
        html = PAGE.format(title=escape(title), body=body).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        headers.append((b"content-length", str(len(html)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": html})

    def render(self, path: str) -> tuple[int, str, str]:
        with self.sim.lock:
            if path in ("", "/"):
                return 200, "Repositories", self.repositories()
            for pattern, page in ((PULL, self.pull), (BLOB, self.blob), (REPO, self.repo)):
                found = pattern.match(path)
                if found is None:
                    continue
                parts = found.groupdict()
                repo = self.sim.state.repo(parts.pop("owner"), parts.pop("repo"))
                answer = None if repo is None else page(repo, **parts)
                if answer is not None:
                    return 200, answer[0], answer[1]
                # A missing pull request or file is a 404, not its repository's page.
                break
            return (
                404,
                "Not found",
                "<h1>Not found</h1><p><a href='/sandbox/web/'>All repositories</a></p>",
            )

    def link(self, text: str, path: str) -> str:
        return f"<a href='{escape(self.sim.urls.web + path)}'>{escape(text)}</a>"

    def repositories(self) -> str:
        items = "".join(
            f"<li>{self.link(r.full_name, '/' + r.full_name)}</li>"
            for r in sorted(self.sim.state.repos.values(), key=lambda r: r.full_name)
        )
        return f"<h1>Repositories</h1><ul>{items}</ul>"

    def repo(self, repo: Repo) -> tuple[str, str]:
        files = self.sim.git.tree(repo.owner, repo.name, repo.default_branch) or {}
        listing = "".join(
            f"<li>{self.link(p, f'/{repo.full_name}/blob/{repo.default_branch}/{p}')}</li>"
            for p in sorted(files)
        )
        pulls = "".join(
            f"<li>{self.link(f'#{p.number} {p.title}', f'/{repo.full_name}/pull/{p.number}')}"
            f" <span class='muted'>{_pull_state(p)} · by {escape(p.user)}</span></li>"
            for p in sorted(repo.pulls.values(), key=lambda p: -p.number)
        )
        deployments = "".join(
            f"<li>{escape(d.environment)} at {d.sha[:7]}: "
            f"{escape(d.statuses[-1].state if d.statuses else 'created')}"
            f"{_anchor(d.statuses[-1].environment_url if d.statuses else '')}</li>"
            for d in sorted(repo.deployments.values(), key=lambda d: -d.id)
        )
        body = (
            f"<h1>{escape(repo.full_name)}</h1>"
            f"<p class='muted'>clone: {escape(self.sim.git.clone_url(repo.owner, repo.name))}</p>"
            f"<h2>Pull requests</h2><ul>{pulls or '<li>none</li>'}</ul>"
            f"<h2>Deployments</h2><ul>{deployments or '<li>none</li>'}</ul>"
            f"<h2>Files on {escape(repo.default_branch)}</h2><ul>{listing or '<li>none</li>'}</ul>"
        )
        return repo.full_name, body

    def pull(self, repo: Repo, number: str) -> tuple[str, str] | None:
        pull = repo.pulls.get(int(number))
        if pull is None:
            return None
        timeline = []
        for comment in sorted(repo.comments.values(), key=lambda c: c.id):
            if comment.issue_number != pull.number:
                continue
            reactions = " ".join(r.content for r in repo.reactions.get(comment.id, []))
            timeline.append(
                f"<div class='box'><b>{escape(comment.user)}</b> "
                f"<span class='muted'>{comment.created_at:%Y-%m-%d %H:%M:%S} UTC"
                f"{' · reactions: ' + escape(reactions) if reactions else ''}</span>"
                f"<pre>{escape(comment.body)}</pre></div>"
            )
        checks = [
            f"<div class='box'><b>{escape(run.name)}</b>: {escape(run.status)}"
            f"{' / ' + escape(run.conclusion) if run.conclusion else ''}{_anchor(run.details_url)}"
            f"<pre>{escape(_output(run.output))}</pre></div>"
            for run in repo.check_runs.values()
            if run.head_sha == pull.head_sha
        ]
        body = (
            f"<h1>{escape(pull.title)} #{pull.number}</h1>"
            f"<p>{escape(repo.full_name)} · {_pull_state(pull)} · {escape(pull.user)} wants to "
            f"merge <code>{escape(pull.head_ref)}</code> ({pull.head_sha[:7]}) into "
            f"<code>{escape(pull.base_ref)}</code></p>"
            f"<h2>Checks on {pull.head_sha[:7]}</h2>{''.join(checks) or '<p>none</p>'}"
            f"<h2>Conversation</h2>{''.join(timeline) or '<p>no comments</p>'}"
            f"<p>{self.link('← ' + repo.full_name, '/' + repo.full_name)}</p>"
        )
        return f"{pull.title} #{pull.number}", body

    def blob(self, repo: Repo, ref: str, path: str) -> tuple[str, str] | None:
        """A file's content, or a directory's files (`/tree/...` links name directories)."""
        path = path.strip("/")
        files = self.sim.git.tree(repo.owner, repo.name, ref) or {}
        heading = f"<p class='muted'>{escape(repo.full_name)} at {escape(ref)}</p>"
        if path in files:
            text = files[path].decode("utf-8", errors="replace")
            return path, f"<h1>{escape(path)}</h1>{heading}<pre>{escape(text)}</pre>"
        inside = sorted(p for p in files if not path or p.startswith(path + "/"))
        if not inside:
            return None
        listing = "".join(
            f"<li>{self.link(p, f'/{repo.full_name}/blob/{ref}/{p}')}</li>" for p in inside
        )
        return path or repo.full_name, f"<h1>{escape(path or '/')}</h1>{heading}<ul>{listing}</ul>"


def _pull_state(pull: Pull) -> str:
    return "merged" if pull.merged_at else pull.state


def _anchor(url: str | None) -> str:
    return f" — <a href='{escape(url)}'>{escape(url)}</a>" if url else ""


def _output(output: dict[str, Any]) -> str:
    return "\n\n".join(str(output[k]) for k in ("title", "summary", "text") if output.get(k))

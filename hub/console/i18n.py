"""The console's words in English and Japanese: one dict per language, picked per request.

The language is the ``goosuke_lang`` cookie (set by the language switch), else the best of the
browser's ``Accept-Language``, else English. A key missing from a language falls back to English,
and a key missing from English is a bug that ``tests/console`` catches (every key in both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGUAGES = ("en", "ja")
COOKIE = "goosuke_lang"

EN: dict[str, str] = {
    "app": "Goosuke console",
    "nav.dashboard": "Dashboard",
    "nav.executions": "Executions",
    "nav.users": "Users",
    "nav.signout": "Sign out",
    "nav.api": "API",
    "lang.label": "Language",
    "lang.switch": "Switch",
    "signin.title": "Sign in",
    "signin.username": "Username",
    "signin.password": "Password",
    "signin.submit": "Sign in",
    "signin.or_token": "Or paste an API token",
    "signin.token": "API token",
    "signin.token_submit": "Sign in with the token",
    "signin.failed": "Sign-in failed: {reason}",
    "signin.again": "Your session ended or the form was stale: sign in again.",
    "signin.signed_out": "You are signed out.",
    "signin.as": "Signed in as {name} ({role})",
    "dash.title": "Dashboard",
    "dash.executions": "Executions",
    "dash.running": "Running",
    "dash.queued": "Queued",
    "dash.failed_hour": "Failed in the last hour",
    "dash.succeeded_hour": "Succeeded in the last hour",
    "dash.chart": "Executions by state (running, queued; finished in the last hour)",
    "dash.failures": "Recent failures",
    "dash.no_failures": "No failure in the last hour.",
    "dash.extensions": "Extensions",
    "dash.no_extensions": "No extension yet.",
    "dash.schedules": "Next scheduled fires",
    "dash.no_schedules": "No enabled schedule.",
    "dash.not_permitted": "You may not see this.",
    "dash.live": "live",
    "dash.offline": "reconnecting…",
    "state.queued": "queued",
    "state.running": "running",
    "state.succeeded": "succeeded",
    "state.failed": "failed",
    "state.cancelled": "cancelled",
    "state.timed_out": "timed out",
    "state.interrupted": "interrupted",
    "state.ready": "ready",
    "state.starting": "starting",
    "state.backoff": "backing off",
    "state.stopped": "stopped",
    "state.disabled": "disabled",
    "ex.title": "Executions",
    "ex.template": "Template",
    "ex.status": "Status",
    "ex.any": "any",
    "ex.filter": "Filter",
    "ex.id": "Id",
    "ex.trigger": "Trigger",
    "ex.queued_at": "Queued",
    "ex.started_at": "Started",
    "ex.finished_at": "Finished",
    "ex.duration": "Duration",
    "ex.error": "Error",
    "ex.none": "No execution matches.",
    "ex.newer": "Newer",
    "ex.older": "Older",
    "ex.total": "{total} in all",
    "ex.detail": "Execution {id}",
    "ex.output": "Output",
    "ex.structured": "Structured output",
    "ex.no_output": "No output yet.",
    "ex.timings": "Timings",
    "ex.usage": "Token usage",
    "ex.logs": "Log",
    "ex.no_logs": "No log line yet.",
    "ex.params": "Parameters",
    "ex.cancel": "Cancel",
    "ex.retry": "Run again",
    "ex.attempt": "Attempt",
    "ex.agent": "Agent",
    "ex.seconds": "{n} s",
    "users.title": "Users",
    "users.username": "Username",
    "users.role": "Role",
    "users.disabled": "Disabled",
    "users.created": "Created",
    "users.add": "Add a user",
    "users.password": "Password",
    "users.submit": "Add",
    "users.added": "Added the user {name}.",
    "yes": "yes",
    "no": "no",
    "error.403": "You may not open this page",
    "error.404": "Not found",
    "error.other": "Something went wrong",
    "error.back": "Back to the dashboard",
    "form.fix": "Fix the fields marked below.",
}

JA: dict[str, str] = {
    "app": "Goosuke コンソール",
    "nav.dashboard": "ダッシュボード",
    "nav.executions": "実行",
    "nav.users": "ユーザー",
    "nav.signout": "サインアウト",
    "nav.api": "API",
    "lang.label": "言語",
    "lang.switch": "切り替え",
    "signin.title": "サインイン",
    "signin.username": "ユーザー名",
    "signin.password": "パスワード",
    "signin.submit": "サインイン",
    "signin.or_token": "または API トークンを貼り付け",
    "signin.token": "API トークン",
    "signin.token_submit": "トークンでサインイン",
    "signin.failed": "サインインできませんでした: {reason}",
    "signin.again": "セッションが終了したか、フォームが古くなりました。もう一度サインインしてください。",
    "signin.signed_out": "サインアウトしました。",
    "signin.as": "{name}({role})としてサインイン中",
    "dash.title": "ダッシュボード",
    "dash.executions": "実行",
    "dash.running": "実行中",
    "dash.queued": "待機中",
    "dash.failed_hour": "直近 1 時間の失敗",
    "dash.succeeded_hour": "直近 1 時間の成功",
    "dash.chart": "状態別の実行数(実行中・待機中、直近 1 時間に終了したもの)",
    "dash.failures": "最近の失敗",
    "dash.no_failures": "直近 1 時間に失敗はありません。",
    "dash.extensions": "拡張機能",
    "dash.no_extensions": "拡張機能はまだありません。",
    "dash.schedules": "次回のスケジュール実行",
    "dash.no_schedules": "有効なスケジュールはありません。",
    "dash.not_permitted": "これを見る権限がありません。",
    "dash.live": "ライブ",
    "dash.offline": "再接続中…",
    "state.queued": "待機中",
    "state.running": "実行中",
    "state.succeeded": "成功",
    "state.failed": "失敗",
    "state.cancelled": "取り消し",
    "state.timed_out": "タイムアウト",
    "state.interrupted": "中断",
    "state.ready": "準備完了",
    "state.starting": "起動中",
    "state.backoff": "再試行待ち",
    "state.stopped": "停止",
    "state.disabled": "無効",
    "ex.title": "実行",
    "ex.template": "テンプレート",
    "ex.status": "状態",
    "ex.any": "すべて",
    "ex.filter": "絞り込み",
    "ex.id": "ID",
    "ex.trigger": "トリガー",
    "ex.queued_at": "キュー投入",
    "ex.started_at": "開始",
    "ex.finished_at": "終了",
    "ex.duration": "所要時間",
    "ex.error": "エラー",
    "ex.none": "該当する実行はありません。",
    "ex.newer": "新しい順へ",
    "ex.older": "古い順へ",
    "ex.total": "全 {total} 件",
    "ex.detail": "実行 {id}",
    "ex.output": "出力",
    "ex.structured": "構造化出力",
    "ex.no_output": "出力はまだありません。",
    "ex.timings": "時間",
    "ex.usage": "トークン使用量",
    "ex.logs": "ログ",
    "ex.no_logs": "ログはまだありません。",
    "ex.params": "パラメーター",
    "ex.cancel": "取り消す",
    "ex.retry": "再実行",
    "ex.attempt": "試行",
    "ex.agent": "エージェント",
    "ex.seconds": "{n} 秒",
    "users.title": "ユーザー",
    "users.username": "ユーザー名",
    "users.role": "ロール",
    "users.disabled": "無効",
    "users.created": "作成日時",
    "users.add": "ユーザーを追加",
    "users.password": "パスワード",
    "users.submit": "追加",
    "users.added": "ユーザー {name} を追加しました。",
    "yes": "はい",
    "no": "いいえ",
    "error.403": "このページを開く権限がありません",
    "error.404": "見つかりません",
    "error.other": "問題が発生しました",
    "error.back": "ダッシュボードへ戻る",
    "form.fix": "下の印の付いた項目を直してください。",
}

CATALOGS: dict[str, dict[str, str]] = {"en": EN, "ja": JA}

Translate = Callable[..., str]


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language for this request: the switch's cookie, else ``Accept-Language``'s best, else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang in LANGUAGES and q > best_q:
            best, best_q = lang, q
    return best


def translator(lang: str) -> Translate:
    """``t(key, **values)`` in ``lang``, English where that language lacks the key."""
    catalog = CATALOGS.get(lang, EN)

    def t(key: str, **values: Any) -> str:
        text = catalog.get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    return t

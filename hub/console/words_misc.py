"""The console's words for the sign-in through an identity provider and the other small pages, added after
the first wave (merged by ``i18n``)."""

from __future__ import annotations

EN: dict[str, str] = {
    "signin.oidc_failed": "Signing in with the identity provider did not work: {reason} Try again, or sign in below.",
    "oidc.provider_denied": "the provider refused the sign-in.",
    "oidc.state_mismatch": "the answer was not for this browser's sign-in (a crossed or forged request).",
    "oidc.expired": "the sign-in took too long.",
    "oidc.no_sign_in": "this browser started no sign-in (cookies must be on).",
    "oidc.no_code": "the provider sent back no code.",
    "oidc.code_refused": "the provider refused to trade the code.",
    "oidc.nonce_mismatch": "the provider's identity token was not for this sign-in.",
    "oidc.bad_id_token": "the provider's identity token could not be verified.",
    "oidc.provider_unreachable": "the provider could not be reached.",
    "oidc.user_disabled": "this hub user is disabled; ask an admin to enable them.",
    "oidc.conflict": "another sign-in of this account was under way.",
    "oidc.not_configured": "sign-in through a provider is not set up on this hub.",
    "oidc.misconfigured": "the hub's provider settings are wrong; ask an admin (the hub's log says more).",
    "oidc.unavailable": "the hub is not ready yet.",
    "oidc.other": "the hub could not finish it.",
    "ex.manual": "by hand",
    "th.actions": "Actions",
}

JA: dict[str, str] = {
    "signin.oidc_failed": (
        "ID プロバイダーでのサインインに失敗しました: {reason} もう一度試すか、下の方法でサインインしてください。"
    ),
    "oidc.provider_denied": "プロバイダーがサインインを拒否しました。",
    "oidc.state_mismatch": "このブラウザーのサインインへの応答ではありません(取り違えか偽造の要求)。",
    "oidc.expired": "サインインに時間がかかりすぎました。",
    "oidc.no_sign_in": "このブラウザーはサインインを始めていません(Cookie を有効にしてください)。",
    "oidc.no_code": "プロバイダーがコードを返しませんでした。",
    "oidc.code_refused": "プロバイダーがコードの交換を拒否しました。",
    "oidc.nonce_mismatch": "プロバイダーの ID トークンがこのサインインのものではありません。",
    "oidc.bad_id_token": "プロバイダーの ID トークンを検証できませんでした。",
    "oidc.provider_unreachable": "プロバイダーに接続できませんでした。",
    "oidc.user_disabled": "このハブのユーザーは無効です。管理者に有効化を依頼してください。",
    "oidc.conflict": "このアカウントの別のサインインが進行中でした。",
    "oidc.not_configured": "このハブでは ID プロバイダーによるサインインが設定されていません。",
    "oidc.misconfigured": "ハブのプロバイダー設定が誤っています。管理者に連絡してください(詳細はハブのログ)。",
    "oidc.unavailable": "ハブはまだ準備中です。",
    "oidc.other": "ハブが処理を完了できませんでした。",
    "ex.manual": "手動",
    "th.actions": "操作",
}

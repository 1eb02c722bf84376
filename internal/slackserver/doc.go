// Package slackserver is a Slack Web API server on loopback for ferry's tests,
// the end-to-end suite and the demo. It speaks the methods ferry calls
// (auth.test, chat.postMessage with metadata and thread_ts, chat.update,
// chat.postEphemeral, conversations.history and conversations.replies with
// include_all_metadata, users.info for members added with AddUser) plus
// response_url endpoints, keeps every message,
// thread, update and piece of metadata, and hands out unique microsecond
// timestamps ("1700000000.000123") so two posts never collide.
//
// It checks the bearer token, refuses blocks the way Slack does
// (invalid_blocks beyond 50 blocks or 3000 characters of section text), and
// can be told to answer 429 with or without Retry-After, 500, an API error,
// or to accept a post and never answer. Transcript and Print expose what
// happened for assertions and for the demo.
//
// slack-go's slacktest was not enough: it has no chat.update or
// conversations.history and gives whole-second timestamps.
//
// Product packages must not import this package.
package slackserver

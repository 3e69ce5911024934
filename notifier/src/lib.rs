//! SecureCam's notifier: durable push delivery jobs (FCM HTTP v1, APNs, Web Push, signed
//! webhooks) with retries. Built in a later issue.

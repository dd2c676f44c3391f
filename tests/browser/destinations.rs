//! A partner sets up where its notifications go: an SQS queue through a role (the page
//! shows the ExternalId and the trust policy to paste), an HTTPS endpoint (its secret shown
//! once), a test to each with its outcome, a failing queue's error, a delete; against a
//! real SQS and STS server (moto). Also at 360 px.

use crate::browser::Browser;
use crate::helpers::{spawn_app_with, Backend, TestReceiver};
use crate::moto::MotoServer;

const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/bob-alerts";
const ROLE: &str = "arn:aws:iam::123456789012:role/hookgate-notifications";

pub async fn a_partner_adds_destinations_and_tests_them(backend: Backend) {
    let moto = MotoServer::start().await;
    moto.create_queue("bob-alerts").await;
    let endpoint = moto.endpoint();
    let app = spawn_app_with(backend, move |s| {
        s.sqs_endpoint = Some(endpoint.clone());
        s.sts_endpoint = Some(endpoint);
    })
    .await;
    let key = crate::platform(&app).await;
    let receiver = TestReceiver::start(Some(app.clock.clone())).await;
    let browser = Browser::start(1100).await;
    let base = &app.base;
    browser.goto(&format!("{base}/portal/login")).await;
    browser.fill("#key", &key).await;
    browser.submit("main button[type=submit]").await;
    browser
        .submit("header a[href='/portal/notifications/destinations']")
        .await;
    assert!(browser.text().await.contains("No destination yet"));
    browser.shot("portal-destinations-empty").await;

    // A queue URL that is not one: the message on its form, nothing stored.
    browser
        .fill("#sqs-queue_url", "https://example.com/123456789012/q")
        .await;
    browser
        .submit("form[aria-labelledby=sqs-title] button[type=submit]")
        .await;
    assert!(browser
        .text()
        .await
        .contains("queue_url must be an SQS queue URL"));
    assert!(app
        .store
        .list_destinations(Some("bob-app"))
        .await
        .unwrap()
        .is_empty());

    // The queue, through a role: its ExternalId and trust policy on the page.
    browser.fill("#sqs-queue_url", QUEUE).await;
    browser.fill("#sqs-role_arn", ROLE).await;
    browser.fill("#sqs-description", "on-call queue").await;
    browser
        .click("form[aria-labelledby=sqs-title] input[value=recovered]")
        .await;
    browser
        .submit("form[aria-labelledby=sqs-title] button[type=submit]")
        .await;
    let stored = app.store.list_destinations(Some("bob-app")).await.unwrap();
    assert_eq!(stored.len(), 1);
    let queue = &stored[0];
    let external_id = queue.external_id.clone().unwrap();
    assert_eq!(queue.role_arn.as_deref(), Some(ROLE));
    assert_eq!(queue.severities.len(), 2, "recovered unticked");
    let page = browser.text().await;
    assert!(page.contains(&external_id), "{page}");
    browser.click("details summary").await;
    let policy = browser.text_of("details pre").await;
    assert!(
        policy.contains(&external_id) && policy.contains("sts:ExternalId"),
        "{policy}"
    );
    browser.shot("portal-destinations-queue").await;

    // A test: the role assumed with that ExternalId, the message on the queue.
    browser
        .submit(&format!("form[action$='/{}/test'] button", queue.id))
        .await;
    let outcome = browser.text_of("#test-outcome").await;
    assert!(outcome.contains("Sent"), "{outcome}");
    assert_eq!(
        moto.assumed_roles().await,
        [(ROLE.to_string(), external_id)]
    );
    let messages = moto.drain(QUEUE).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0["severity"], "test");

    // An HTTPS endpoint: its secret shown once; a test signed with it.
    browser.fill("#https-url", &receiver.url()).await;
    browser
        .submit("form[aria-labelledby=https-title] button[type=submit]")
        .await;
    let secret = browser.text_of("#new-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.shot("portal-destinations-https-created").await;
    let https = app
        .store
        .list_destinations(Some("bob-app"))
        .await
        .unwrap()
        .pop()
        .unwrap();
    browser
        .submit(&format!("form[action$='/{}/test'] button", https.id))
        .await;
    assert!(browser.text_of("#test-outcome").await.contains("Sent"));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .expect("signed with the secret shown");
    assert!(!browser.text().await.contains(&secret), "shown only once");

    // The queue deleted: a test fails with AWS's error, the destination shows failing.
    moto.delete_queue(QUEUE).await;
    browser
        .submit(&format!("form[action$='/{}/test'] button", queue.id))
        .await;
    let outcome = browser.text_of("#test-outcome").await;
    assert!(outcome.contains("NonExistentQueue"), "{outcome}");
    assert!(browser.text_of("#destinations").await.contains("failing"));
    browser.shot("portal-destinations-failing").await;

    let phone = Browser::start(360).await;
    phone.goto(&format!("{base}/portal/login")).await;
    phone.fill("#key", &key).await;
    phone.submit("main button[type=submit]").await;
    for (path, name) in [
        ("/portal/notifications/destinations", "destinations"),
        ("/portal/notifications", "notifications"),
    ] {
        phone.goto(&format!("{base}{path}")).await;
        phone.assert_fits_width().await;
        phone.shot(&format!("portal-phone-{name}")).await;
    }
    phone.client.clone().close().await.unwrap();

    browser
        .submit(&format!("form[action$='/{}/delete'] button", queue.id))
        .await;
    assert_eq!(
        app.store
            .list_destinations(Some("bob-app"))
            .await
            .unwrap()
            .len(),
        1
    );
    browser.client.clone().close().await.unwrap();
}

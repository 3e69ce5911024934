//! Who may see and act on what, written once: a user reaches their own rows, and another
//! owner's camera only through an active device link from it to one of their devices.
//! Each function returns an SQL condition over the given column expressions and parameters
//! (such as `"d.id"`, `"$2"`), for the stores' queries to embed.

/// An active link from camera `camera` to a client device `c` that satisfies `client`
/// (`c` is the linked device's `devices` row, `l` the link's).
fn active_link(camera: &str, client: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM device_links l JOIN devices c ON c.id = l.client_device_id \
         WHERE l.camera_device_id = {camera} AND l.status = 'active' AND {client})"
    )
}

/// Camera `camera` is linked to a device of user `user`.
pub fn linked_to_user(camera: &str, user: &str) -> String {
    active_link(camera, &format!("c.user_id = {user}"))
}

/// Camera `camera` is linked to device `device`.
pub fn linked_to_device(camera: &str, device: &str) -> String {
    active_link(camera, &format!("c.id = {device}"))
}

/// Camera `camera` is linked to the viewer — any device of user `user` when `device` is
/// NULL, else that device (a device token sees through its own links only) — by a link made
/// no later than `since` (what happened before sharing stays private).
pub fn linked_to_viewer(camera: &str, user: &str, device: &str, since: &str) -> String {
    active_link(
        camera,
        &format!(
            "l.created_at <= {since} \
             AND (({device} IS NULL AND c.user_id = {user}) OR c.id = {device})"
        ),
    )
}

/// The client devices with an active link to camera `camera`, as a subquery.
pub fn linked_clients(camera: &str) -> String {
    format!(
        "SELECT client_device_id FROM device_links \
         WHERE camera_device_id = {camera} AND status = 'active'"
    )
}

/// The users with a device actively linked to camera `camera`, as a subquery.
pub fn linked_users(camera: &str) -> String {
    format!(
        "SELECT c.user_id FROM device_links l JOIN devices c ON c.id = l.client_device_id \
         WHERE l.camera_device_id = {camera} AND l.status = 'active'"
    )
}

/// Device `device` may be seen by user `user`: theirs, or a camera linked to one of theirs.
pub fn visible_device(device: &str, owner: &str, user: &str) -> String {
    format!("({owner} = {user} OR {})", linked_to_user(device, user))
}

/// A `device_links` row user `user` may see and revoke: a link of their camera, or one to a
/// device of theirs.
pub fn link_visible_to(user: &str) -> String {
    format!(
        "(owner_user_id = {user} OR client_device_id IN (SELECT id FROM devices WHERE user_id = {user}))"
    )
}

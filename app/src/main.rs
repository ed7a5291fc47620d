//! The citizen-facing SPA. Entry point: mounts [`nhi_app::App`] on `<body>`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(nhi_app::App);
}

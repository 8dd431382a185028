/** Userinfo was needed at sign-in and failed: the person is shown by what the ID token had. */
export function ProfileIncomplete() {
  return (
    <p className="notice warn" role="status" data-notice="profile-incomplete">
      Your name and e-mail address could not be fetched from the provider when you signed in, so this app may show you
      by your user id. Signing in again may fix it.
    </p>
  );
}

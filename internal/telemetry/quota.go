package telemetry

import (
	"context"
	"fmt"

	"cloud.google.com/go/auth/credentials"
	"golang.org/x/oauth2/google"
)

// quotaProject returns the project to name in the x-goog-user-project header
// for these application-default credentials, or "" to send none.
//
// Google takes the quota project from the principal when it is a service
// account, "including by impersonation", and naming one in the request needs
// serviceusage.services.use on it, which the runtime account does not hold
// (https://cloud.google.com/docs/quotas/set-quota-project). So the header goes
// only with user credentials (an authorized_user ADC file, `gcloud auth
// application-default login`): the quota project the file or
// GOOGLE_CLOUD_QUOTA_PROJECT names, as Google's client libraries read them,
// else the project telemetry is written to. Every other kind (the metadata
// server on Cloud Run, a key file, impersonation, workload or workforce
// federation) sends none.
func quotaProject(ctx context.Context, creds *google.Credentials, configured string) (string, error) {
	if creds.JSON == nil {
		return "", nil // the metadata server: the attached service account
	}
	// The typed constructor refuses a file of any other type.
	user, err := credentials.NewCredentialsFromJSON(credentials.AuthorizedUser, creds.JSON,
		&credentials.DetectOptions{Scopes: []string{cloudPlatformScope}})
	if err != nil {
		return "", nil
	}
	qp, err := user.QuotaProjectID(ctx)
	if err != nil {
		return "", fmt.Errorf("telemetry: quota project of the user credentials: %w", err)
	}
	if qp == "" {
		qp = configured
	}
	return qp, nil
}

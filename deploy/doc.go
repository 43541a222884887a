// Package deploy checks the release machinery that lives beside the code: the
// Dockerfile, cloudbuild.yaml, compose.yaml, the one-time project setup script
// (setup.sh) and the template rename with gonew. It has no code of its own; its
// tests keep those files honest, because a pipeline that has never run is a trap.
//
// The container check (build the image with podman, run it against a real
// PostgreSQL) is behind the "container" build tag:
//
//	go test -tags container -run TestContainer -v ./deploy/
package deploy

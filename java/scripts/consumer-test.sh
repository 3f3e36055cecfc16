#!/usr/bin/env bash
# The library as another project gets it: `mvn install` of java/deploykit into a throwaway local
# repository (seeded with a copy of the user's Maven cache, so it runs offline), then
# java/examples/consumer, copied out of the tree, is built against that repository with its own
# POM (the library plus TensorFlow's native classifier, no picocli) and predicts the golden set of
# a one-input and a two-input model of $DEPLOYKIT_TEST_MANIFEST. Any failure fails the check.
# Usage: DEPLOYKIT_TEST_MANIFEST=build/test-models/manifest.json java/scripts/consumer-test.sh
set -euo pipefail
java_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$(readlink -f "${DEPLOYKIT_TEST_MANIFEST:?set DEPLOYKIT_TEST_MANIFEST to a test export}")"
cache="${DEPLOYKIT_MAVEN_CACHE:-$HOME/.m2/repository}"
version="$(cat "$java_dir/../VERSION")"
models=(mlp_keras textcls_keras)

fail() { echo "consumer-test: FAIL: $*" >&2; exit 1; }
[[ -d "$cache" ]] ||
  fail "no Maven cache at $cache: run 'make setup-java' (or set DEPLOYKIT_MAVEN_CACHE)"
start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/deploykit-java-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
repo="$work/repo"
cp -R "$cache" "$repo"
rm -rf "$repo/dev/deploykit" # only what this run installs
mvn=(mvn -B -o -q -Dstyle.color=never "-Dmaven.repo.local=$repo")

# The library, its parent POM, sources and javadoc jars, as `mvn install` lays them out.
"${mvn[@]}" -f "$java_dir/pom.xml" -pl deploykit -am install -DskipTests
lib="$repo/dev/deploykit/deploykit/$version"
for f in "deploykit-$version.jar" "deploykit-$version.pom" "deploykit-$version-sources.jar" \
  "deploykit-$version-javadoc.jar"; do
  [[ -s "$lib/$f" ]] || fail "mvn install did not put $f into the repository"
done
if grep -q "<artifactId>picocli</artifactId>" "$lib/deploykit-$version.pom"; then
  fail "the library's POM names picocli"
fi

# The consumer: its own project, resolved from the temporary repository only.
cp -R "$java_dir/examples/consumer" "$work/consumer"
"${mvn[@]}" -f "$work/consumer/pom.xml" "-Ddeploykit.version=$version" compile \
  dependency:build-classpath "-Dmdep.outputFile=$work/classpath.txt"
classpath="$(cat "$work/classpath.txt")"
case ":$classpath:" in
  *picocli*) fail "picocli reached the consumer's classpath: $classpath" ;;
esac
for jar in "$lib/deploykit-$version.jar" tensorflow-core-api-1.1.0.jar \
  tensorflow-core-native-1.1.0-linux-x86_64.jar; do
  [[ ":$classpath:" == *"$jar:"* ]] || fail "$jar is not on the consumer's classpath: $classpath"
done

if ! TF_CPP_MIN_LOG_LEVEL=3 java -cp "$work/consumer/target/classes:$classpath" example.Predict \
  "$manifest" "${models[@]}" 2>"$work/stderr"; then
  cat "$work/stderr" >&2
  fail "the consumer's predictions (above)"
fi
echo "consumer-test: ok (${models[*]} from dev.deploykit:deploykit:$version" \
  "in a temporary repository, $((SECONDS - start)) s)"

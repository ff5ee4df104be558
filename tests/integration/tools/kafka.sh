#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) for the integration tests and the bench.
# Source it, then:
#   kafka_start DIR        fetches the jars once (Maven Central, cached outside the repository in
#                          ${XDG_CACHE_HOME:-$HOME/.cache}/logwarden/kafka-$KAFKA_VERSION), formats
#                          a data dir under DIR and starts the broker on free 127.0.0.1 ports;
#                          sets KAFKA_BOOTSTRAP (host:port) and KAFKA_PID. Returns 77 (skip) when
#                          Java, Maven or Maven Central is missing, with the reason on stderr.
#   kafka_topic NAME N     creates topic NAME with N partitions
#   kafka_group_offsets GROUP TOPIC   prints "partition committed end" lines (tool output parsed)
#   kafka_stop             stops the broker (call it from the test's trap)
# The broker's version is printed when it starts, so every test log says which broker ran.
KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KAFKA_LOG4J_VERSION=${KAFKA_LOG4J_VERSION:-2.25.5}
KAFKA_CACHE=${KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logwarden/kafka-$KAFKA_VERSION}
KAFKA_PID=
KAFKA_BOOTSTRAP=
KAFKA_DIR=

kafka__free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The jars, once: a generated pom.xml and the dependency plugin (~55 MB, ~20 s the first time).
kafka_fetch() {
  local libs="$KAFKA_CACHE/libs"
  if [ -f "$libs/.complete" ]; then
    return 0
  fi
  command -v java >/dev/null 2>&1 || { echo "SKIP: no java (apt-get install default-jdk-headless)" >&2; return 77; }
  command -v mvn >/dev/null 2>&1 || { echo "SKIP: no mvn (apt-get install maven)" >&2; return 77; }
  mkdir -p "$KAFKA_CACHE"
  cat > "$KAFKA_CACHE/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>logwarden.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$KAFKA_LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$libs.tmp"
  if ! (cd "$KAFKA_CACHE" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=libs.tmp \
        -DincludeScope=runtime >"$KAFKA_CACHE/mvn.log" 2>&1); then
    echo "SKIP: cannot fetch Apache Kafka $KAFKA_VERSION from Maven Central (is it reachable?):" >&2
    tail -5 "$KAFKA_CACHE/mvn.log" >&2
    rm -rf "$libs.tmp"
    return 77
  fi
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
}

kafka_start() {
  local dir=${1:?kafka_start DIR}
  local port cport id i rc=0
  kafka_fetch || return $?
  KAFKA_DIR="$dir/kafka"
  mkdir -p "$KAFKA_DIR/data"
  port=$(kafka__free_port)
  cport=$(kafka__free_port)
  while [ "$cport" = "$port" ]; do cport=$(kafka__free_port); done
  cat > "$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  # Kafka 4 logs through slf4j + log4j2: without a configuration it says nothing useful.
  cat > "$KAFKA_DIR/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.f.ref=F
appender.f.type=File
appender.f.name=F
appender.f.fileName=$KAFKA_DIR/server.log
appender.f.layout.type=PatternLayout
appender.f.layout.pattern=[%d] %p %m (%c)%n
EOF
  id=$(java -cp "$KAFKA_CACHE/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
  java -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$KAFKA_CACHE/libs/*" \
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/format.log" 2>&1 || { echo "kafka: format failed:" >&2; cat "$KAFKA_DIR/format.log" >&2; return 1; }
  java -Xmx512m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$KAFKA_CACHE/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/stdout.log" 2>&1 &
  KAFKA_PID=$!
  KAFKA_BOOTSTRAP="127.0.0.1:$port"
  for i in $(seq 1 600); do
    if grep -q "Kafka Server started" "$KAFKA_DIR/server.log" 2>/dev/null &&
       kcat -b "$KAFKA_BOOTSTRAP" -L -m 2 >/dev/null 2>&1; then
      echo "kafka: Apache Kafka $KAFKA_VERSION (KRaft, single node) on $KAFKA_BOOTSTRAP," \
           "ready after $((i / 10)).$((i % 10)) s"
      return 0
    fi
    if ! kill -0 "$KAFKA_PID" 2>/dev/null; then
      echo "kafka: the broker exited:" >&2
      tail -20 "$KAFKA_DIR/stdout.log" "$KAFKA_DIR/server.log" >&2 2>/dev/null
      KAFKA_PID=
      return 1
    fi
    sleep 0.1
  done
  echo "kafka: the broker is not ready after 60 s" >&2
  return 1
}

kafka__tool() {
  java -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -XX:TieredStopAtLevel=1 \
    -cp "$KAFKA_CACHE/libs/*" "$@"
}

kafka_topic() {
  kafka__tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --create --topic "${1:?}" --partitions "${2:?}" --replication-factor 1 >/dev/null
}

# "partition committed end" per partition of TOPIC for GROUP ("-" when nothing is committed).
kafka_group_offsets() {
  kafka__tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$KAFKA_BOOTSTRAP" --describe --group "${1:?}" 2>/dev/null |
    awk -v t="${2:?}" '$2 == t { print $3, $4, $5 }' | sort -n
}

kafka_stop() {
  if [ -n "$KAFKA_PID" ]; then
    kill "$KAFKA_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$KAFKA_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$KAFKA_PID" 2>/dev/null || true
    wait "$KAFKA_PID" 2>/dev/null || true
    KAFKA_PID=
  fi
}
